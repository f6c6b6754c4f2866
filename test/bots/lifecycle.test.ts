import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  fixtureBot,
  runHive,
  startDaemon,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { alive, bot, readLog, readMarks, submit, waitBot, waitFinal } from '../helpers/fleet.ts';

test('a bot that never sends ready is killed at its start timeout and started again', async (t) => {
  const marks = join(tempDir(t), 'no-ready.jsonl');
  const daemon = await startDaemon(t, {
    config: {
      bots: {
        // Long enough for Node to boot and mark its start on a loaded machine (at 400 ms a
        // process was sometimes killed before it wrote its mark, and the test waited in vain).
        mute: fixtureBot('no-ready.ts', {
          startTimeoutMs: 1_000,
          env: { HIVE_FIXTURE_LOG: marks },
          restart: { initialDelayMs: 50, maxDelayMs: 100, maxRestarts: 100 },
        }),
      },
    },
  });
  const first = await waitBot(daemon, 'mute-0', (b) => b.pid !== null, { what: 'mute-0 to spawn' });
  t.is(first.state, 'starting');
  const firstPid = first.pid as number;
  const again = await waitBot(
    daemon,
    'mute-0',
    (b) => b.restarts >= 1 && b.pid !== null && b.pid !== firstPid,
    { what: 'mute-0 to be killed and started again' },
  );
  t.is(again.state, 'starting', 'it is never ready');
  t.regex(again.lastExit?.reason ?? '', /no ready message within 1000 ms/);
  t.is(again.lastExit?.signal, 'SIGKILL');
  await waitFor(() => !alive(firstPid), { what: 'the first process to be gone' });
  // On a loaded machine the second process may also have timed out by the time
  // status was read: the one seen is a later start, not necessarily the second.
  const starts = await waitFor(
    () => {
      const found = readMarks(marks).filter((m) => m.event === 'start');
      return found.some((m) => m.pid !== firstPid) ? found : undefined;
    },
    { what: 'a restarted process to start' },
  );
  t.is(starts[0]?.pid, firstPid);
  // Killed at the start timeout, not earlier (origin is slightly after the spawn).
  const exit = await waitFor(
    () => readLog(daemon, 'bots.jsonl').find((l) => String(l.message).startsWith('mute-0 exited')),
    { what: 'the first exit in bots.jsonl' },
  );
  const livedMs = Date.parse(String(exit.time)) - (starts[0]?.origin ?? 0);
  // The daemon's clock starts at spawn, the bot's origin after Node has booted,
  // which takes a few hundred ms on a loaded machine: allow for that.
  t.true(livedMs >= 1_000 - 250, `the first process was killed ${livedMs} ms after it started`);
});

test('a bot that crashes at start backs off exponentially, is marked failed, and bots restart revives it', async (t) => {
  const dir = tempDir(t);
  const marks = join(dir, 'crash.jsonl');
  const flag = join(dir, 'broken');
  writeFileSync(flag, 'remove me to fix the bot\n');
  const delays = [100, 400, 1_600];
  const daemon = await startDaemon(t, {
    config: {
      bots: {
        crash: fixtureBot('crash-at-start.ts', {
          env: { HIVE_FIXTURE_LOG: marks, HIVE_FIXTURE_CRASH_FILE: flag },
          restart: {
            initialDelayMs: delays[0],
            factor: 4,
            maxDelayMs: 10_000,
            maxRestarts: delays.length,
            windowMs: 60_000,
          },
        }),
      },
    },
  });
  const failed = await waitBot(daemon, 'crash-0', (b) => b.state === 'failed', {
    what: 'crash-0 to be marked failed',
  });
  t.is(failed.pid, null);
  t.is(failed.restarts, delays.length);
  t.regex(failed.failureReason ?? '', /crash loop: 4 exits within 60000 ms/);
  t.regex(failed.failureReason ?? '', /exited with code 1/);
  t.regex(failed.failureReason ?? '', /hive bots restart crash-0/);

  // One start, then one per restart, each spawned at least its delay after the exit before it,
  // and the delays grow. (Spawn times, not log times: Node's own start-up varies under load.)
  const starts = readMarks(marks).filter((m) => m.event === 'start');
  t.is(starts.length, delays.length + 1);
  const exits = await waitFor(
    () => {
      const found = readLog(daemon, 'bots.jsonl')
        .filter((l) => String(l.message).startsWith('crash-0 exited'))
        .map((l) => Date.parse(String(l.time)));
      return found.length === delays.length + 1 ? found : undefined;
    },
    { what: 'every exit in bots.jsonl' },
  );
  const gaps = starts.slice(1).map((s, i) => Math.round(s.origin - (exits[i] ?? 0)));
  gaps.forEach((gap, i) => {
    t.true(gap >= (delays[i] ?? 0) - 5, `restart ${i + 1} spawned ${gap} ms after the exit`);
  });
  t.log(`restart gaps ${gaps.join(', ')} ms for delays ${delays.join(', ')}`);
  t.true((gaps[1] ?? 0) > (gaps[0] ?? 0) && (gaps[2] ?? 0) > (gaps[1] ?? 0), `gaps ${gaps}`);

  // The operator sees why in bots ls; it stays failed (no more restarts) until told otherwise.
  const ls = await runHive(['bots', 'ls', '--socket', daemon.socket]);
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stdout, /crash-0\s+crash\s+failed.*crash loop/);
  t.is((await bot(daemon, 'crash-0')).restarts, delays.length);

  rmSync(flag);
  const restart = await runHive([
    'bots',
    'restart',
    'crash-0',
    '--json',
    '--socket',
    daemon.socket,
  ]);
  t.is(restart.code, 0, restart.stderr);
  await waitForReadyBots(daemon, 1, 'crash');
  const revived = await bot(daemon, 'crash-0');
  t.is(revived.state, 'ready');
  t.is(revived.failureReason, undefined);
  t.is(revived.restarts, delays.length + 1);
  const { id } = await submit(daemon, 'crash');
  t.is((await waitFinal(daemon, id)).state, 'done');
});
