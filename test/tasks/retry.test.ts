import test from 'ava';
import { fixtureBot, runHive, startDaemon, waitForReadyBots } from '../helpers/daemon.ts';
import { submit, waitFinal } from '../helpers/fleet.ts';

const retry = { initialDelayMs: 100, factor: 4, maxDelayMs: 10_000, jitter: 0, maxAttempts: 4 };

test('bot errors are retried with growing backoff, then the task fails with the last error', async (t) => {
  const daemon = await startDaemon(t, {
    config: { queue: { retry }, bots: { flaky: fixtureBot('flaky.ts', { instances: 2 }) } },
  });
  await waitForReadyBots(daemon, 2, 'flaky');
  const { id } = await submit(daemon, 'flaky', { payload: { failAttempts: 99 } });
  const task = await waitFinal(daemon, id);
  t.is(task.state, 'failed');
  t.is(task.attempts, 4);
  t.is(task.error?.reason, 'bot_error');
  t.regex(
    task.error?.message ?? '',
    /transient failure on attempt 4 \(attempt 4 of 4, giving up\)/,
  );
  t.deepEqual(
    task.history.map((a) => a.outcome),
    ['error', 'error', 'error', 'error'],
  );
  // Each retry waits at least its delay (100, 400, 1600 ms), and the waits grow.
  const waits = task.history
    .slice(1)
    .map((a, i) => a.startedAt - (task.history[i]?.endedAt ?? Number.POSITIVE_INFINITY));
  waits.forEach((wait, i) => {
    t.true(wait >= retry.initialDelayMs * retry.factor ** i, `retry ${i + 1} waited ${wait} ms`);
  });
  t.true((waits[0] ?? 0) < (waits[1] ?? 0) && (waits[1] ?? 0) < (waits[2] ?? 0), `waits ${waits}`);
});

test('a flaky task succeeds on a retry; maxAttempts per task is honoured', async (t) => {
  const daemon = await startDaemon(t, {
    config: { queue: { retry }, bots: { flaky: fixtureBot('flaky.ts') } },
  });
  await waitForReadyBots(daemon, 1, 'flaky');
  const recovers = await waitFinal(
    daemon,
    (await submit(daemon, 'flaky', { payload: { failAttempts: 2 } })).id,
  );
  t.is(recovers.state, 'done');
  t.is(recovers.attempts, 3);
  t.like(recovers.result, { attempt: 3 });

  const run = await runHive([
    'task',
    'submit',
    'flaky',
    '--payload',
    '{"failAttempts": 5}',
    '--attempts',
    '2',
    '--wait',
    '--json',
    '--socket',
    daemon.socket,
  ]);
  const answer = JSON.parse(run.stdout) as { state: string; error: { message: string } };
  t.is(answer.state, 'failed');
  t.not(run.code, 0);
  t.regex(answer.error.message, /attempt 2 of 2/);
});

test('a PermanentError fails the task at once, without retries', async (t) => {
  const daemon = await startDaemon(t, {
    config: { queue: { retry }, bots: { flaky: fixtureBot('flaky.ts') } },
  });
  await waitForReadyBots(daemon, 1, 'flaky');
  const task = await waitFinal(
    daemon,
    (await submit(daemon, 'flaky', { payload: { permanent: true } })).id,
  );
  t.is(task.state, 'failed');
  t.is(task.attempts, 1);
  t.is(task.history.length, 1);
  t.is(task.error?.reason, 'bot_error');
  t.is(task.error?.message, 'invalid input: this can never succeed');
});
