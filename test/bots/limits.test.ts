import { join } from 'node:path';
import test from 'ava';
import { fixtureBot, startDaemon, tempDir, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { alive, bot, readMarks, submit, waitBot, waitFinal } from '../helpers/fleet.ts';

/** Resolves with the time a process was first seen gone (polled every 5 ms). */
function deathTime(pid: number, timeoutMs: number): Promise<number> {
  return waitFor(() => (alive(pid) ? undefined : Date.now()), {
    timeoutMs,
    intervalMs: 5,
    what: `pid ${pid} to die`,
  });
}

test('a frozen bot (event loop blocked, no heartbeats) is killed and replaced after heartbeatTimeoutMs', async (t) => {
  const marks = join(tempDir(t), 'frozen.jsonl');
  const heartbeatTimeoutMs = 800;
  const daemon = await startDaemon(t, {
    config: {
      bots: {
        frozen: fixtureBot('frozen.ts', {
          heartbeatIntervalMs: 100,
          heartbeatTimeoutMs,
          taskTypes: ['freeze', 'ping'],
          env: { HIVE_FIXTURE_LOG: marks },
        }),
      },
    },
  });
  const before = (await waitForReadyBots(daemon, 1, 'frozen')).bots[0];
  const oldPid = before?.pid as number;
  const { id } = await submit(daemon, 'freeze', { timeoutMs: 60_000, maxAttempts: 1 });
  const died = deathTime(oldPid, 10_000);
  const froze = await waitFor(() => readMarks(marks).find((m) => m.event === 'freeze'), {
    what: 'the bot to freeze',
  });
  const silentMs = (await died) - froze.at;
  // The last heartbeat came at most one interval before the freeze; then the supervision tick.
  t.true(silentMs >= heartbeatTimeoutMs - 150, `killed ${silentMs} ms after freezing: too early`);
  t.true(silentMs <= heartbeatTimeoutMs + 1_000, `killed ${silentMs} ms after freezing: too late`);

  const replaced = await waitBot(
    daemon,
    'frozen-0',
    (b) => b.state === 'ready' && b.pid !== null && b.pid !== oldPid,
    { what: 'a replacement to be ready' },
  );
  t.true(replaced.restarts >= 1);
  t.regex(replaced.lastExit?.reason ?? '', /missed heartbeats for \d+ ms/);
  const task = await waitFinal(daemon, id);
  t.is(task.state, 'dead');
  t.is(task.error?.reason, 'crash');
  t.regex(task.error?.message ?? '', /missed heartbeats/);
  // The replacement works.
  const ping = await submit(daemon, 'ping');
  t.is((await waitFinal(daemon, ping.id)).state, 'done');
});

test('a bot over its memory limit is killed within a second of crossing it and restarted', async (t) => {
  const marks = join(tempDir(t), 'hog.jsonl');
  const limitMb = 150;
  const daemon = await startDaemon(t, {
    config: {
      supervision: { memoryCheckIntervalMs: 250 },
      bots: {
        hog: fixtureBot('memory-hog.ts', {
          memoryLimitMb: limitMb,
          taskTypes: ['hog', 'ping'],
          env: { HIVE_FIXTURE_LOG: marks },
        }),
      },
    },
  });
  const before = (await waitForReadyBots(daemon, 1, 'hog')).bots[0];
  const oldPid = before?.pid as number;
  const { rss } = (await waitFinal(daemon, (await submit(daemon, 'ping')).id)).result as {
    rss: number;
  };
  t.true(rss < limitMb * 1024 * 1024, `idle RSS ${rss} is under the limit`);

  const submitted = Date.now();
  const { id } = await submit(daemon, 'hog', {
    payload: { limitMb, maxMb: 450, stepMb: 2 },
    timeoutMs: 60_000,
    maxAttempts: 1,
  });
  const diedAt = await deathTime(oldPid, 10_000);
  const crossed = readMarks(marks).find((m) => m.event === 'crossed');
  t.truthy(crossed, 'the bot noted when it crossed the limit');
  const overMs = diedAt - (crossed?.at ?? 0);
  // The check runs every 250 ms, so the kill comes well within a second on
  // an idle machine; the bound leaves room for a loaded CI box (the point is
  // "not after a 30-second poll").
  t.true(overMs <= 2_000, `killed ${overMs} ms after crossing the limit`);
  t.true(diedAt - submitted <= 6_000, `killed ${diedAt - submitted} ms after the hog task`);

  const replaced = await waitBot(
    daemon,
    'hog-0',
    (b) => b.state === 'ready' && b.pid !== null && b.pid !== oldPid,
    { what: 'hog-0 to be restarted' },
  );
  t.true(replaced.restarts >= 1);
  t.regex(
    replaced.lastExit?.reason ?? '',
    new RegExp(`memory limit: RSS \\d+ MB over ${limitMb} MB`),
  );
  const task = await waitFinal(daemon, id);
  t.is(task.state, 'dead');
  t.regex(task.error?.message ?? '', /memory limit/);
  t.is((await bot(daemon, 'hog-0')).state, 'ready');
});
