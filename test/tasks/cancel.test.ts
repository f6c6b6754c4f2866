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
import {
  errorCode,
  gate,
  getTask,
  readLog,
  readMarks,
  submit,
  waitFinal,
  waitTaskState,
} from '../helpers/fleet.ts';

test('cancel of a queued task: it never runs, and a second cancel says it is final', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { slow: fixtureBot('slow.ts') } } });
  await waitForReadyBots(daemon, 1, 'slow');
  const hold = gate(tempDir(t));
  const blocker = await submit(daemon, 'slow', { payload: { gate: hold.path } });
  await waitTaskState(daemon, blocker.id, 'running');
  const victim = await submit(daemon, 'slow', { payload: { victim: true } });

  const run = await runHive(['task', 'cancel', victim.id, '--json', '--socket', daemon.socket]);
  t.is(run.code, 0, run.stderr);
  t.like(JSON.parse(run.stdout), { id: victim.id, state: 'cancelled' });
  hold.open();

  const after = await submit(daemon, 'slow');
  t.is((await waitFinal(daemon, after.id)).state, 'done');
  const cancelled = await getTask(daemon, victim.id);
  t.is(cancelled.state, 'cancelled');
  t.is(cancelled.attempts, 0);
  t.deepEqual(cancelled.history, [], 'it was never leased');
  t.is(cancelled.error?.reason, 'cancelled');
  t.is(await errorCode(daemon.call('task.cancel', { id: victim.id })), 'HIVE_TASK_ALREADY_FINAL');
  t.is(await errorCode(daemon.call('task.cancel', { id: 'tnope' })), 'HIVE_TASK_NOT_FOUND');
});

test('cancel of a running task: waiters see cancelled and the late result of the lost lease is rejected', async (t) => {
  const marks = join(tempDir(t), 'late.jsonl');
  const daemon = await startDaemon(t, {
    config: { bots: { late: fixtureBot('late-result.ts', { env: { HIVE_FIXTURE_LOG: marks } }) } },
  });
  await waitForReadyBots(daemon, 1, 'late');
  const hold = gate(tempDir(t));
  const { id } = await submit(daemon, 'late', { payload: { gate: hold.path } });
  const running = await waitTaskState(daemon, id, 'running');
  const waiting = waitFinal(daemon, id);

  const answer = await daemon.call('task.cancel', { id, reason: 'operator changed their mind' });
  t.like(answer, { id, state: 'cancelled' });
  const seen = await waiting;
  t.is(seen.state, 'cancelled');
  t.is(seen.error?.message, 'operator changed their mind');
  hold.open();

  // The bot ignored the cancel and answered with its old token: rejected.
  await waitFor(() => readMarks(marks).some((m) => m.event === 'result' && m.id === id), {
    what: 'the late result',
  });
  t.true(
    readMarks(marks).some((m) => m.event === 'cancel' && m.id === id),
    'the bot was told',
  );
  const stale = await waitFor(
    () => readLog(daemon, 'tasks.jsonl').find((l) => l.message === 'stale-result' && l.task === id),
    { what: 'the stale result in tasks.jsonl' },
  );
  t.is(stale.token, running.history[0]?.token);
  const final = await getTask(daemon, id);
  t.is(final.state, 'cancelled');
  t.is(final.result, undefined);
  t.is(final.history[0]?.error, 'cancelled');
  t.like((await daemon.call('status')) as object, { queue: { done: 0, cancelled: 1 } });
});

test('cancel of a running task frees its bot slot at once', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { slow: fixtureBot('slow.ts', { concurrency: 1 }) } },
  });
  await waitForReadyBots(daemon, 1, 'slow');
  // The gate never opens: the cancelled task's handler is still stuck in the bot.
  const hold = gate(tempDir(t));
  const long = await submit(daemon, 'slow', { payload: { gate: hold.path } });
  await waitTaskState(daemon, long.id, 'running');
  await daemon.call('task.cancel', { id: long.id });
  const next = await waitFinal(daemon, (await submit(daemon, 'slow')).id);
  t.is(next.state, 'done', 'the next task did not wait for the cancelled one');
  t.is(next.history[0]?.bot, 'slow-0');
  t.is((await getTask(daemon, long.id)).state, 'cancelled');
});
