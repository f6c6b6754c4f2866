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
import { gate, getTask, readLog, readMarks, submit, waitFinal } from '../helpers/fleet.ts';

test('a task whose bot never answers: the lease expires, it is retried, then dead with a timeout reason', async (t) => {
  const marks = join(tempDir(t), 'hang.jsonl');
  const daemon = await startDaemon(t, {
    config: {
      queue: { leaseGraceMs: 50, retry: { initialDelayMs: 20, jitter: 0 } },
      bots: {
        hang: fixtureBot('hang.ts', {
          instances: 2,
          taskTimeoutMs: 30_000,
          env: { HIVE_FIXTURE_LOG: marks },
        }),
      },
    },
  });
  await waitForReadyBots(daemon, 2, 'hang');
  const started = Date.now();
  const run = await runHive([
    'task',
    'submit',
    'hang',
    '--timeout',
    '300',
    '--attempts',
    '3',
    '--wait',
    '--json',
    '--socket',
    daemon.socket,
  ]);
  const answer = JSON.parse(run.stdout) as {
    id: string;
    state: string;
    error?: { reason: string; message: string };
  };
  t.is(answer.state, 'dead', run.stdout + run.stderr);
  t.not(run.code, 0, 'a dead task is not a success for the CLI');
  t.is(answer.error?.reason, 'timeout');
  t.regex(
    answer.error?.message ?? '',
    /no result from hang-\d within 300 ms \(attempt 3 of 3, giving up\)/,
  );
  t.true(Date.now() - started >= 3 * 300, 'three leases of 300 ms each ran out');

  const task = await getTask(daemon, answer.id);
  t.is(task.timeoutMs, 300);
  t.is(task.attempts, 3);
  t.is(task.history.length, 3);
  for (const attempt of task.history) {
    t.is(attempt.outcome, 'timeout');
    t.regex(attempt.error ?? '', /within 300 ms/);
    t.true(
      (attempt.endedAt ?? 0) - attempt.startedAt >= 300,
      'a lease expires no earlier than its timeout',
    );
  }
  // The bots really received each attempt.
  const received = readMarks(marks).filter((m) => m.event === 'task' && m.id === answer.id);
  t.deepEqual(
    received.map((m) => m.attempt),
    [1, 2, 3],
  );
});

test('per-task timeout: timeoutMs overrides the kind default; without it the kind default applies', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      queue: { leaseGraceMs: 50 },
      bots: { slow: fixtureBot('slow.ts', { instances: 2, taskTimeoutMs: 5_000 }) },
    },
  });
  await waitForReadyBots(daemon, 2, 'slow');
  const [short, long] = await Promise.all([
    submit(daemon, 'slow', { payload: { ms: 3_000 }, timeoutMs: 250, maxAttempts: 1 }),
    submit(daemon, 'slow', { payload: { ms: 600 } }),
  ]);
  const expired = await waitFinal(daemon, short.id);
  t.is(expired.state, 'dead');
  t.is(expired.timeoutMs, 250);
  t.is(expired.error?.reason, 'timeout');
  t.regex(expired.error?.message ?? '', /within 250 ms/);
  const attempt = expired.history[0];
  const leaseMs = (attempt?.endedAt ?? 0) - (attempt?.startedAt ?? 0);
  t.true(leaseMs >= 250 && leaseMs < 2_500, `lease lasted ${leaseMs} ms, not the 3 s of work`);

  const finished = await waitFinal(daemon, long.id);
  t.is(finished.timeoutMs, 5_000, 'the kind taskTimeoutMs is the default');
  t.is(finished.state, 'done');
  t.is(finished.attempts, 1);
});

test('a result that arrives after its lease expired is rejected: the task stays dead', async (t) => {
  const marks = join(tempDir(t), 'late.jsonl');
  const daemon = await startDaemon(t, {
    config: {
      queue: { leaseGraceMs: 0 },
      bots: { late: fixtureBot('late-result.ts', { env: { HIVE_FIXTURE_LOG: marks } }) },
    },
  });
  await waitForReadyBots(daemon, 1, 'late');
  const hold = gate(tempDir(t));
  const { id } = await submit(daemon, 'late', {
    payload: { gate: hold.path },
    timeoutMs: 200,
    maxAttempts: 1,
  });
  const dead = await waitFinal(daemon, id);
  t.is(dead.state, 'dead');
  const token = dead.history[0]?.token;
  hold.open();

  // The bot was told to stop, ignored it, and answered anyway with the old token.
  await waitFor(() => readMarks(marks).some((m) => m.event === 'result' && m.id === id), {
    what: 'the late result to be sent',
  });
  t.true(readMarks(marks).some((m) => m.event === 'cancel' && m.id === id));
  const stale = await waitFor(
    () => readLog(daemon, 'tasks.jsonl').find((l) => l.message === 'stale-result' && l.task === id),
    { what: 'the daemon to log the stale result' },
  );
  t.is(stale.token, token);
  const after = await getTask(daemon, id);
  t.is(after.state, 'dead');
  t.is(after.result, undefined);
  t.is(after.attempts, 1);
});
