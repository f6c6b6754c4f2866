import { mkdirSync, unlinkSync } from 'node:fs';
import test from 'ava';
import type { Connection } from '../../client/connection.ts';
import {
  configStatus,
  dropIn,
  loadAfter,
  mainFile,
  nextRecords,
  saveAtomic,
} from '../helpers/config.ts';
import {
  echoBot,
  fixtureBot,
  startDaemon,
  status,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { bots, errorCode, readLog, submit, waitFinal } from '../helpers/fleet.ts';
import { allTasks, doneAttempts } from '../helpers/submit.ts';

const names = async (daemon: Awaited<ReturnType<typeof startDaemon>>, kind: string) =>
  (await bots(daemon))
    .filter((b) => b.kind === kind)
    .map((b) => b.name)
    .sort();

test('instances from the file scale the live pool; a changed config value resets a hive bots scale override', async (t) => {
  const slow = (extra: Record<string, unknown>) => ({
    bots: { slow: fixtureBot('slow.ts', extra) },
  });
  const daemon = await startDaemon(t, { config: slow({ instances: 1 }) });
  await waitForReadyBots(daemon, 1, 'slow');
  await nextRecords(daemon, 0);
  const file = mainFile(daemon);

  const up = await loadAfter(daemon, () => saveAtomic(file, slow({ instances: 3 })));
  t.deepEqual(up.diff, [{ key: 'bots.slow.instances', old: 1, new: 3 }]);
  await waitForReadyBots(daemon, 3, 'slow');
  t.deepEqual(await names(daemon, 'slow'), ['slow-0', 'slow-1', 'slow-2']);

  // An operator's override holds while the config's value stays the same...
  await daemon.call('bots.scale', { kind: 'slow', instances: 4 });
  await waitForReadyBots(daemon, 4, 'slow');
  const other = await loadAfter(daemon, () =>
    saveAtomic(file, slow({ instances: 3, concurrency: 2 })),
  );
  t.deepEqual(
    other.diff.map((c) => c.key),
    ['bots.slow.concurrency'],
  );
  t.is((await names(daemon, 'slow')).length, 4, 'the override survives an unrelated change');
  t.true(
    (
      (await daemon.call('bots.ls', { kind: 'slow' })) as { bots: { concurrency: number }[] }
    ).bots.every((b) => b.concurrency === 2),
    'limits change in place on running bots',
  );

  // ...and a new value in the config replaces it.
  const down = await loadAfter(daemon, () =>
    saveAtomic(file, slow({ instances: 2, concurrency: 2 })),
  );
  t.deepEqual(down.diff, [{ key: 'bots.slow.instances', old: 3, new: 2 }]);
  t.true(down.notes.some((n) => /replace the hive bots scale override \(4\)/.test(n)));
  await waitFor(async () => (await names(daemon, 'slow')).length === 2, {
    what: 'two slow bots',
  });
  t.deepEqual(await names(daemon, 'slow'), ['slow-0', 'slow-1']);
});

test('a changed command or env replaces bots one at a time, and no task is lost under load', async (t) => {
  const kind = (tag: string) => ({
    bots: {
      slow: fixtureBot('slow.ts', {
        instances: 3,
        concurrency: 2,
        stopTimeoutMs: 5_000,
        env: { HIVE_FIXTURE_TAG: tag },
      }),
    },
  });
  const daemon = await startDaemon(t, { config: kind('v1') });
  const before = await waitForReadyBots(daemon, 3, 'slow');
  const oldPids = new Set(before.bots.map((b) => b.pid));
  await nextRecords(daemon, 0);

  // Steady load: a task every 5 ms, each taking 10 ms, for the whole rollout.
  const connection: Connection = await daemon.connect();
  t.teardown(() => connection.close());
  const acked: string[] = [];
  let loading = true;
  const load = (async () => {
    while (loading) {
      const answer = (await connection.request('task.submit', {
        type: 'slow',
        payload: { ms: 10 },
      })) as { id: string };
      acked.push(answer.id);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await waitFor(() => acked.length >= 20, { what: 'the load to start' });

  const record = await loadAfter(daemon, () => saveAtomic(mainFile(daemon), kind('v2')));
  t.deepEqual(record.diff, [
    { key: 'bots.slow.env.HIVE_FIXTURE_TAG', old: '<redacted>', new: '<redacted>' },
  ]);
  t.true(record.notes.some((n) => /slow: replacing 3 bots one at a time \(env changed\)/.test(n)));
  await waitFor(
    () =>
      readLog(daemon, 'bots.jsonl').some(
        (l) => l.message === 'slow: every bot runs the current config',
      ),
    { what: 'the rollout to finish' },
  );
  const after = await waitForReadyBots(daemon, 3, 'slow');
  loading = false;
  await load;

  const current = after.bots.filter((b) => b.kind === 'slow');
  t.is(current.length, 3);
  t.false(
    current.some((b) => oldPids.has(b.pid)),
    'every bot is a new process',
  );

  // One at a time: each replacement starts only after the bot it replaced before is gone.
  const steps = readLog(daemon, 'bots.jsonl').flatMap((l) => {
    const message = String(l.message);
    const start = /^slow: starting (\S+) to replace (\S+)/.exec(message);
    if (start) return [{ step: 'start', fresh: start[1], old: start[2] }];
    const exit = /^(\S+) exited: replaced by/.exec(message);
    return exit ? [{ step: 'exit', old: exit[1] }] : [];
  });
  t.deepEqual(
    steps.map((s) => s.step),
    ['start', 'exit', 'start', 'exit', 'start', 'exit'],
    JSON.stringify(steps),
  );
  for (let i = 0; i < steps.length; i += 2) t.is(steps[i]?.old, steps[i + 1]?.old);

  // Every acknowledged task is done exactly once; the ones after the rollout ran on v2.
  await waitFor(
    async () => {
      const q = (await status(daemon)).queue;
      return q.queued + q.running === 0;
    },
    { what: 'the queue to drain' },
  );
  const tasks = await allTasks(connection);
  t.is(tasks.length, acked.length);
  t.deepEqual(
    tasks.filter((task) => task.state !== 'done' || doneAttempts(task) !== 1).map((x) => x.id),
    [],
    'no task failed, died or ran twice',
  );
  const last = await waitFinal(daemon, acked.at(-1) as string);
  t.is((last.result as { tag: string }).tag, 'v2');
});

test('a replacement that does not become ready stops the rollout; the old bot keeps working', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot() } } });
  const [old] = (await waitForReadyBots(daemon, 1, 'echo')).bots;
  await nextRecords(daemon, 0);
  const broken = { bots: { echo: echoBot({ command: fixtureBot('crash-at-start.ts').command }) } };
  const record = await loadAfter(daemon, () => saveAtomic(mainFile(daemon), broken));
  t.is(record.outcome, 'applied');
  const error = await waitFor(
    () => readLog(daemon, 'bots.jsonl').find((l) => /did not become ready/.test(String(l.message))),
    { what: 'the failed replacement' },
  );
  t.regex(String(error.message), /echo-0 keeps running on the previous config/);
  const now = await bots(daemon);
  t.deepEqual(
    now.map((b) => [b.name, b.pid, b.state]),
    [['echo-0', old?.pid, 'ready']],
  );
  const { id } = await submit(daemon, 'echo', { payload: { still: 'here' } });
  t.is((await waitFinal(daemon, id)).state, 'done');
});

test('bot kinds added and removed by a drop-in; queue policy changes apply to the next task', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot() } } });
  await waitForReadyBots(daemon, 1, 'echo');
  await nextRecords(daemon, 0);
  const extra = dropIn(daemon, '20-more.yaml');
  mkdirSync(`${daemon.stateDir}/config/conf.d`, { recursive: true });

  const added = await loadAfter(daemon, () =>
    saveAtomic(extra, {
      queue: { retry: { maxAttempts: 7 }, defaultPriority: 2, maxTaskAttempts: 8 },
      bots: { more: fixtureBot('slow.ts', { instances: 2 }) },
    }),
  );
  t.deepEqual(
    added.diff.map((c) => c.key),
    ['queue.defaultPriority', 'queue.maxTaskAttempts', 'queue.retry.maxAttempts', 'bots.more'],
  );
  await waitForReadyBots(daemon, 2, 'more');
  const task = (await daemon.call('task.get', {
    id: (await submit(daemon, 'more')).id,
  })) as { maxAttempts: number; priority: number };
  t.is(task.maxAttempts, 7);
  t.is(task.priority, 2);
  t.is(await errorCode(submit(daemon, 'more', { maxAttempts: 9 })), 'HIVE_IPC_BAD_ARGS');

  const removed = await loadAfter(daemon, () => unlinkSync(extra));
  t.true(removed.notes.some((n) => /more: removed/.test(n)));
  await waitFor(async () => (await names(daemon, 'more')).length === 0, { what: 'more bots gone' });
  t.is(await errorCode(submit(daemon, 'more')), 'HIVE_TASK_UNKNOWN_TYPE');
  t.deepEqual(await names(daemon, 'echo'), ['echo-0'], 'the other kind is untouched');
});

test('a key that cannot change live is reported as needing a restart; ipc limits change live', async (t) => {
  const base = { bots: { echo: echoBot() } };
  const daemon = await startDaemon(t, { config: base });
  await nextRecords(daemon, 0);
  const file = mainFile(daemon);

  const moved = await loadAfter(daemon, () =>
    saveAtomic(file, { ...base, daemon: { socket: '/tmp/elsewhere.sock', drainTimeoutMs: 1234 } }),
  );
  t.is(moved.outcome, 'applied');
  t.deepEqual(moved.diff, [{ key: 'daemon.drainTimeoutMs', old: 10_000, new: 1234 }]);
  t.deepEqual(moved.restartRequired, [{ key: 'daemon.socket', new: '/tmp/elsewhere.sock' }]);
  const s = await configStatus(daemon);
  t.deepEqual(s.pendingRestart, [{ key: 'daemon.socket', new: '/tmp/elsewhere.sock' }]);
  t.is(
    await errorCode(daemon.call('config.get', { key: 'daemon.socket' })),
    'HIVE_CONFIG_KEY_NOT_FOUND',
    'the running value (none) stays',
  );

  // Smaller frames, at once, on a connection already open: a 4 KB request
  // passes now, and after the change it is refused and the connection ended
  // (what an oversized frame always gets; the error answer has no request id).
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const big = { type: 'echo', payload: { blob: 'x'.repeat(4096) } };
  t.truthy(await connection.request('task.submit', big));
  const small = await loadAfter(daemon, () =>
    saveAtomic(file, { ...base, ipc: { maxFrameBytes: 2048 } }),
  );
  t.deepEqual(small.restartRequired, [], 'the socket change was reverted: nothing pending');
  t.deepEqual((await configStatus(daemon)).pendingRestart, []);
  t.is(await errorCode(connection.request('task.submit', big)), 'HIVE_IPC_CLOSED');
  const fresh = await daemon.connect();
  t.teardown(() => fresh.close());
  t.truthy(await fresh.request('status'), 'the daemon serves new connections');
});

test('a flag takes effect at once: daemon.logTaskEvents', async (t) => {
  const base = { bots: { echo: echoBot() } };
  const daemon = await startDaemon(t, { config: base });
  await waitForReadyBots(daemon, 1, 'echo');
  await nextRecords(daemon, 0);
  const file = mainFile(daemon);
  const taskIds = () => new Set(readLog(daemon, 'tasks.jsonl').map((l) => l.id));

  await loadAfter(daemon, () => saveAtomic(file, { ...base, daemon: { logTaskEvents: false } }));
  const quiet = (await submit(daemon, 'echo')).id;
  await waitFinal(daemon, quiet);
  await loadAfter(daemon, () => saveAtomic(file, base));
  const loud = (await submit(daemon, 'echo')).id;
  await waitFinal(daemon, loud);
  // Lines reach tasks.jsonl in order: once the second task's are there, the first's would be too.
  await waitFor(() => taskIds().has(loud), { what: 'the events of the second task' });
  t.false(taskIds().has(quiet), 'no events while the flag was off');
});
