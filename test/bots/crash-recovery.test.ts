import test from 'ava';
import { fixtureBot, startDaemon, tempDir, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import {
  alive,
  bot,
  gate,
  getTask,
  submit,
  waitBot,
  waitFinal,
  waitTaskState,
} from '../helpers/fleet.ts';

test('a bot SIGKILLed mid-task: the task is retried on another bot and the bot is respawned', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      queue: { retry: { initialDelayMs: 20, jitter: 0 } },
      bots: { slow: fixtureBot('slow.ts', { instances: 2 }) },
    },
  });
  await waitForReadyBots(daemon, 2, 'slow');
  const hold = gate(tempDir(t));
  const { id } = await submit(daemon, 'slow', { payload: { gate: hold.path } });
  const running = await waitTaskState(daemon, id, 'running');
  const victimName = running.bot as string;
  const victim = await bot(daemon, victimName);
  const oldPid = victim.pid as number;
  t.true(alive(oldPid));

  process.kill(oldPid, 'SIGKILL');
  // The gate opens only once the daemon has seen the crash: the first attempt cannot finish.
  await waitFor(async () => (await getTask(daemon, id)).history[0]?.outcome === 'crash', {
    what: 'the first attempt to end as a crash',
  });
  hold.open();

  const task = await waitFinal(daemon, id);
  t.is(task.state, 'done');
  t.is(task.attempts, 2);
  t.is(task.history.length, 2);
  t.is(task.history[0]?.bot, victimName);
  t.is(task.history[0]?.outcome, 'crash');
  t.regex(task.history[0]?.error ?? '', /SIGKILL/);
  t.not(task.history[1]?.bot, victimName, 'the retry ran on the other bot');
  t.is(task.history[1]?.outcome, 'done');
  t.is((task.result as { bot?: string }).bot, task.history[1]?.bot);

  const respawned = await waitBot(
    daemon,
    victimName,
    (b) => b.state === 'ready' && b.pid !== null && b.pid !== oldPid,
    { what: `${victimName} respawned` },
  );
  t.true(respawned.restarts >= 1);
  t.not(respawned.pid, oldPid);
  t.regex(respawned.lastExit?.reason ?? '', /SIGKILL/);
  t.false(alive(oldPid));
});

test('a bot that exits mid-task: the task is retried and finishes; after maxAttempts it is dead with the crash reason', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      queue: { retry: { initialDelayMs: 20, jitter: 0, maxAttempts: 3 } },
      bots: { crashy: fixtureBot('crash-on-task.ts', { instances: 2 }) },
    },
  });
  await waitForReadyBots(daemon, 2, 'crashy');
  const recovers = await submit(daemon, 'crashy', { payload: { crashAttempts: 1 } });
  const done = await waitFinal(daemon, recovers.id);
  t.is(done.state, 'done');
  t.is(done.attempts, 2);
  t.deepEqual(
    done.history.map((a) => a.outcome),
    ['crash', 'done'],
  );
  t.regex(done.history[0]?.error ?? '', /exited with code 3/);

  const hopeless = await submit(daemon, 'crashy', { payload: {} });
  const dead = await waitFinal(daemon, hopeless.id);
  t.is(dead.state, 'dead');
  t.is(dead.attempts, 3);
  t.is(dead.error?.reason, 'crash');
  t.regex(dead.error?.message ?? '', /exited with code 3.*attempt 3 of 3/);
  t.deepEqual(
    dead.history.map((a) => a.outcome),
    ['crash', 'crash', 'crash'],
  );
});
