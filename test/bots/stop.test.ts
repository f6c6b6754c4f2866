import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { fixtureBot, startDaemon, tempDir, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { alive, bots, readLog, readMarks, submit, waitFinal, waitGone } from '../helpers/fleet.ts';

const STOP_MS = 300;

function stubbornConfig(marks: string, instances: number) {
  return {
    daemon: { drainTimeoutMs: 500 },
    bots: {
      stubborn: fixtureBot('stubborn.ts', {
        instances,
        stopTimeoutMs: STOP_MS,
        env: { HIVE_FIXTURE_LOG: marks },
      }),
    },
  };
}

test('scale down of a bot that ignores shutdown and SIGTERM: SIGKILLed after the stop timeouts', async (t) => {
  const marks = join(tempDir(t), 'stubborn.jsonl');
  const daemon = await startDaemon(t, { config: stubbornConfig(marks, 2) });
  const ready = await waitForReadyBots(daemon, 2, 'stubborn');
  const victim = ready.bots.find((b) => b.name === 'stubborn-1');
  const pid = victim?.pid as number;
  t.true(alive(pid));

  const started = Date.now();
  const answer = (await daemon.call('bots.scale', { kind: 'stubborn', instances: 1 })) as {
    from: number;
    to: number;
  };
  const tookMs = Date.now() - started;
  t.deepEqual(answer, { kind: 'stubborn', from: 2, to: 1 });
  t.false(alive(pid), 'the answer comes once the bot is gone');
  t.true(tookMs >= 2 * STOP_MS - 20, `scale down took ${tookMs} ms`);
  t.true(tookMs < 2 * STOP_MS + 3_000, `scale down took ${tookMs} ms`);
  const seen = readMarks(marks)
    .filter((m) => m.pid === pid)
    .map((m) => m.event);
  t.true(seen.includes('shutdown'), 'it got the shutdown message');
  t.true(seen.includes('SIGTERM'), 'it got SIGTERM');
  const exit = await waitFor(
    () =>
      readLog(daemon, 'bots.jsonl').find(
        (l) => l.bot === 'stubborn-1' && String(l.message).startsWith('stubborn-1 exited'),
      ),
    { what: 'the exit of stubborn-1 in bots.jsonl' },
  );
  t.is(exit.signal, 'SIGKILL');
  t.deepEqual(
    (await bots(daemon)).map((b) => b.name),
    ['stubborn-0'],
  );
});

test('daemon stop with a stubborn bot: the bot is SIGKILLed and hived still exits 0 with its marker', async (t) => {
  const marks = join(tempDir(t), 'stubborn.jsonl');
  const daemon = await startDaemon(t, { config: stubbornConfig(marks, 1) });
  const ready = await waitForReadyBots(daemon, 1, 'stubborn');
  const pid = ready.bots[0]?.pid as number;
  const { id } = await submit(daemon, 'stubborn');
  t.is((await waitFinal(daemon, id)).state, 'done');

  const started = Date.now();
  await daemon.call('daemon.stop');
  const exit = await daemon.exited;
  const tookMs = Date.now() - started;
  t.deepEqual(exit, { code: 0, signal: null });
  t.false(alive(pid));
  t.true(tookMs >= 2 * STOP_MS - 20, `stop took ${tookMs} ms`);
  t.true(tookMs < 8_000, `stop took ${tookMs} ms`);
  const seen = readMarks(marks)
    .filter((m) => m.pid === pid)
    .map((m) => m.event);
  t.true(seen.includes('shutdown') && seen.includes('SIGTERM'), `bot saw ${seen.join(', ')}`);
  t.true(existsSync(join(daemon.stateDir, 'run', 'shutdown.marker')));
  t.regex(daemon.output(), /stopped cleanly/);
  const botExit = readLog(daemon, 'bots.jsonl').find(
    (l) => l.bot === 'stubborn-0' && String(l.message).startsWith('stubborn-0 exited'),
  );
  t.is(botExit?.signal, 'SIGKILL');
});

test('children never outlive the daemon: after SIGKILL of hived every bot and grandchild is gone', async (t) => {
  const marks = join(tempDir(t), 'stubborn.jsonl');
  const daemon = await startDaemon(t, {
    config: {
      bots: {
        slow: fixtureBot('slow.ts', { instances: 2 }),
        family: fixtureBot('grandchild.ts'),
        stubborn: fixtureBot('stubborn.ts', { env: { HIVE_FIXTURE_LOG: marks } }),
        stdio: fixtureBot('slow.ts', { transport: 'stdio' }),
      },
    },
  });
  const ready = await waitForReadyBots(daemon, 5);
  const { id } = await submit(daemon, 'family');
  const { pid: familyPid, grandchild } = (await waitFinal(daemon, id)).result as {
    pid: number;
    grandchild: number;
  };
  // A task in flight too.
  await submit(daemon, 'slow', { payload: { ms: 10_000 } });
  const pids = [...ready.bots.map((b) => b.pid as number), grandchild];
  t.true(pids.includes(familyPid));
  t.is(pids.length, 6);
  t.true(pids.every(alive), 'all alive before the kill');

  daemon.kill('SIGKILL');
  await daemon.exited;
  await t.notThrowsAsync(waitGone(pids, 3_000));
});

test('a restarted bot takes its whole process group with it (grandchild included)', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { family: fixtureBot('grandchild.ts') } },
  });
  await waitForReadyBots(daemon, 1, 'family');
  const first = (await waitFinal(daemon, (await submit(daemon, 'family')).id)).result as {
    pid: number;
    grandchild: number;
  };
  t.true(alive(first.grandchild));
  await daemon.call('bots.restart', { name: 'family-0' });
  await waitGone([first.pid, first.grandchild], 3_000);
  t.false(alive(first.grandchild));
  await waitForReadyBots(daemon, 1, 'family');
  const second = (await waitFinal(daemon, (await submit(daemon, 'family')).id)).result as {
    pid: number;
    grandchild: number;
  };
  t.not(second.pid, first.pid);
  t.true(alive(second.grandchild));
});
