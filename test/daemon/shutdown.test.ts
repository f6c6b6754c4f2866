/**
 * Graceful stop of a real hived: SIGTERM/SIGINT drain and exit 0, the
 * shutdown marker is written last, the next start reports "clean", and no
 * task accepted before the stop is lost.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  echoBot,
  type Status,
  startDaemon,
  status,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { alive, pidOf } from '../helpers/process.ts';
import { allTasks, doneAttempts, slices, submitMany } from '../helpers/submit.ts';

interface Marker {
  pid: number;
  runStartedAt: string;
  stoppedAt: string;
  version: string;
  reason: string;
}

function readMarker(stateDir: string): Marker {
  return JSON.parse(readFileSync(join(stateDir, 'run', 'shutdown.marker'), 'utf8')) as Marker;
}

test('SIGTERM: exit 0, bots stopped, marker written, next start reports clean', async (t) => {
  const config = { bots: { echo: echoBot({ instances: 2 }) } };
  const first = await startDaemon(t, { config });
  const before = await waitForReadyBots(first, 2);
  t.is(before.daemon.lastStart, 'clean', 'a first start counts as clean');
  const botPids = before.bots.map((b) => b.pid).filter((p): p is number => p !== null);
  t.is(botPids.length, 2);
  const markerPath = join(first.stateDir, 'run', 'shutdown.marker');
  t.false(existsSync(markerPath), 'no marker while running');

  first.kill('SIGTERM');
  const exit = await first.exited;
  t.deepEqual(exit, { code: 0, signal: null });

  const marker = readMarker(first.stateDir);
  t.is(marker.pid, pidOf(first));
  t.true(marker.reason.includes('SIGTERM'), marker.reason);
  t.false(Number.isNaN(Date.parse(marker.stoppedAt)));
  t.false(existsSync(join(first.stateDir, 'run', 'hived.lock')), 'the lock record is released');
  t.true(
    botPids.every((pid) => !alive(pid)),
    'no bot outlives a clean stop',
  );
  t.true(first.output().includes('stopped cleanly'), 'the log says so (flushed before exit)');

  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  const after = await status(second);
  t.is(after.daemon.lastStart, 'clean');
  t.not(after.daemon.pid, pidOf(first));
  t.false(existsSync(markerPath), 'the marker is removed at start');
});

test('SIGINT and a repeated SIGTERM also stop cleanly', async (t) => {
  const config = { bots: { echo: echoBot() } };
  const first = await startDaemon(t, { config });
  first.kill('SIGINT');
  t.is((await first.exited).code, 0);
  t.true(readMarker(first.stateDir).reason.includes('SIGINT'));

  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  t.is((await status(second)).daemon.lastStart, 'clean');
  second.kill('SIGTERM');
  second.kill('SIGTERM');
  t.deepEqual(await second.exited, { code: 0, signal: null });
  t.is(readMarker(first.stateDir).pid, pidOf(second));

  const third = await startDaemon(t, { stateDir: first.stateDir, config });
  t.is((await status(third)).daemon.lastStart, 'clean');
});

test('queued tasks survive a clean stop and run after the restart', async (t) => {
  const config = { bots: { echo: echoBot() } };
  const first = await startDaemon(t, { config });
  // No bot to run them: the tasks stay queued across the stop.
  await first.call('bots.scale', { kind: 'echo', instances: 0 });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const answer = (await first.call('task.submit', { type: 'echo', payload: { i } })) as {
      id: string;
      state: string;
    };
    t.is(answer.state, 'queued');
    ids.push(answer.id);
  }
  first.kill('SIGTERM');
  t.is((await first.exited).code, 0);

  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  const s = await status(second);
  t.is(s.daemon.lastStart, 'clean');
  t.is(s.queue.queued, 5, 'all five are still queued');
  t.is(s.bots.filter((b) => b.kind === 'echo').length, 0, 'the scale survives the restart');

  await second.call('bots.scale', { kind: 'echo', instances: 1 });
  for (const [i, id] of ids.entries()) {
    const done = (await second.call('task.wait', { id, timeoutMs: 15_000 })) as {
      state: string;
      result: { echo: { i: number } };
    };
    t.is(done.state, 'done');
    t.is(done.result.echo.i, i);
  }
});

const underLoad = test.macro({
  title: (detail = '') =>
    `SIGTERM under load ${detail}: queued tasks persist, late submissions are refused, nothing acknowledged is lost`,
  async exec(t, drainTimeoutMs: number) {
    const config = {
      daemon: { drainTimeoutMs },
      bots: { echo: echoBot({ instances: 2, concurrency: 2 }) },
    };
    const first = await startDaemon(t, { config });
    await waitForReadyBots(first, 2);
    const connections = await Promise.all([first.connect(), first.connect(), first.connect()]);
    let acks = 0;
    let signalled = false;
    const onAck = () => {
      acks += 1;
      if (!signalled && acks >= 150) {
        signalled = true;
        first.kill('SIGTERM');
      }
    };
    // Submissions keep coming while the daemon stops: each is either
    // acknowledged, refused as "stopping", or cut off by the closing socket.
    const parts = slices(600, 3);
    const outcomes = await Promise.all(
      connections.map((connection, n) =>
        submitMany(connection, parts[n] ?? [], {
          window: 8,
          onAck,
          refusable: ['HIVE_DAEMON_STOPPING'],
        }),
      ),
    );
    t.deepEqual(await first.exited, { code: 0, signal: null }, first.output());
    t.true(existsSync(join(first.stateDir, 'run', 'shutdown.marker')));

    const acked = new Map<number, string>();
    let refused = 0;
    const lost = new Set<number>();
    for (const outcome of outcomes) {
      for (const [i, id] of outcome.acked) acked.set(i, id);
      for (const code of outcome.refused.values()) t.is(code, 'HIVE_DAEMON_STOPPING');
      refused += outcome.refused.size;
      for (const i of outcome.lost) lost.add(i);
    }
    t.log(`${acked.size} acknowledged, ${refused} refused as stopping, ${lost.size} cut off`);
    t.true(acked.size >= 150);
    t.true(refused + lost.size > 0, 'some submissions arrived after the stop began');

    const drained = first.output().match(/drained.*finished=(\d+).*requeued=(\d+)/);
    if (drained) t.log(`drain: ${drained[1]} finished, ${drained[2]} requeued`);

    const second = await startDaemon(t, { stateDir: first.stateDir, config });
    t.is((await status(second)).daemon.lastStart, 'clean');
    await waitFor(
      async () => {
        const s = await status(second);
        return s.queue.queued === 0 && s.queue.running === 0;
      },
      { timeoutMs: 20_000, what: 'the queue to drain after the restart' },
    );
    const connection = await second.connect();
    t.teardown(() => connection.close());
    const tasks = await allTasks(connection);
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const problems: string[] = [];
    for (const [index, id] of acked) {
      const task = byId.get(id);
      if (task?.state !== 'done' || doneAttempts(task) !== 1 || task.result?.echo?.i !== index)
        problems.push(`${id} (#${index}): ${JSON.stringify(task ?? 'missing')}`);
    }
    t.deepEqual(problems, []);
    // Nothing the daemon refused was persisted anyway.
    const ackedIds = new Set(acked.values());
    const unacked = tasks.filter((task) => !ackedIds.has(task.id));
    t.true(
      unacked.every((task) => lost.has(task.result?.echo?.i ?? -1)),
      'every task without an acknowledgement was cut off in flight, never refused',
    );
  },
});

test('(5 s drain time)', underLoad, 5_000);
test('(no drain time: whatever runs is requeued)', underLoad, 0);

test('a client waiting on a task when hived stops is told HIVE_DAEMON_STOPPING', async (t) => {
  const config = { bots: { echo: echoBot() } };
  const daemon = await startDaemon(t, { config });
  await daemon.call('bots.scale', { kind: 'echo', instances: 0 });
  const { id } = (await daemon.call('task.submit', { type: 'echo' })) as { id: string };
  const connection = await daemon.connect();
  const waiting = connection.request('task.wait', { id }).then(
    () => 'answered',
    (error: unknown) => (error as { code?: string }).code ?? String(error),
  );
  // The wait is open once the daemon has it: a status on the same connection is answered after it.
  await connection.request('status');
  daemon.kill('SIGTERM');
  t.is(await waiting, 'HIVE_DAEMON_STOPPING');
  t.is((await daemon.exited).code, 0);
});

/**
 * A task held by a bot that cannot answer (SIGSTOPped) is running for as
 * long as the test likes: that makes "running at SIGTERM" deterministic with
 * the plain echo bot.
 */
async function taskStuckInStoppedBot(t: ExecutionContext, drainTimeoutMs: number) {
  const config = { daemon: { drainTimeoutMs }, bots: { echo: echoBot() } };
  const daemon = await startDaemon(t, { config });
  const ready = await waitForReadyBots(daemon, 1);
  const botPid = ready.bots[0]?.pid;
  if (!botPid) throw new Error('echo bot has no pid');
  process.kill(botPid, 'SIGSTOP');
  t.teardown(() => {
    if (alive(botPid)) process.kill(botPid, 'SIGCONT');
  });
  const { id } = (await daemon.call('task.submit', { type: 'echo', payload: 'held' })) as {
    id: string;
  };
  await waitFor(async () => (await status(daemon)).queue.running === 1, {
    what: 'the task to be leased to the stopped bot',
  });
  return { daemon, config, botPid, id };
}

interface TaskHistory {
  state: string;
  attempts: number;
  result?: { echo: unknown };
  history: { outcome?: string; error?: string }[];
}

test('a task running at SIGTERM that finishes within the drain time is done before the exit', async (t) => {
  const { daemon, config, botPid, id } = await taskStuckInStoppedBot(t, 10_000);
  daemon.kill('SIGTERM');
  // The daemon is draining: it still answers, says it is stopping, and waits for the task.
  const draining = await waitFor(
    async () => {
      const s = (await daemon.call('status')) as Status & { daemon: { stopping?: boolean } };
      return s.daemon.stopping ? s : undefined;
    },
    { what: 'hived to report that it is stopping' },
  );
  t.is(draining.queue.running, 1);
  process.kill(botPid, 'SIGCONT');
  t.deepEqual(await daemon.exited, { code: 0, signal: null });

  const next = await startDaemon(t, { stateDir: daemon.stateDir, config });
  t.is((await status(next)).daemon.lastStart, 'clean');
  const task = (await next.call('task.get', { id })) as TaskHistory;
  t.is(task.state, 'done', 'it finished during the drain, before the restart');
  t.is(task.result?.echo, 'held');
  t.deepEqual(
    task.history.map((a) => a.outcome),
    ['done'],
  );
});

test('a task still running when the drain time is up is requeued, not lost, and runs after the restart', async (t) => {
  const { daemon, config, id } = await taskStuckInStoppedBot(t, 300);
  daemon.kill('SIGTERM');
  t.deepEqual(await daemon.exited, { code: 0, signal: null });
  t.true(existsSync(join(daemon.stateDir, 'run', 'shutdown.marker')));

  const next = await startDaemon(t, { stateDir: daemon.stateDir, config });
  t.is((await status(next)).daemon.lastStart, 'clean');
  const done = (await next.call('task.wait', { id, timeoutMs: 15_000 })) as { state: string };
  t.is(done.state, 'done');
  const task = (await next.call('task.get', { id })) as TaskHistory;
  t.deepEqual(
    task.history.map((a) => a.outcome),
    ['requeued', 'done'],
    JSON.stringify(task.history),
  );
  t.is(task.attempts, 1, 'a requeue at shutdown does not count as an attempt');
  t.regex(task.history[0]?.error ?? '', /stopping/);
});
