import { join } from 'node:path';
import test from 'ava';
import { startDaemon, status, tempDir, waitForReadyBots } from '../helpers/daemon.ts';
import {
  allFinal,
  completions,
  heldTasksOnGreen,
  type ReleasedAttempt,
  startV2,
  steadyLoad,
  testConfig,
  waitDeploy,
} from '../helpers/deploy.ts';
import { readLog } from '../helpers/fleet.ts';

test('a v2 that fails 30% of its tasks is rolled back at the first step with enough samples; no task ends failed', async (t) => {
  const daemon = await startDaemon(t, { config: testConfig() });
  await waitForReadyBots(daemon, 2, 'work');
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const load = steadyLoad(connection);
  await startV2(daemon, { HIVE_FIXTURE_FAIL_PERCENT: '30' });
  const ended = await waitDeploy(daemon, (v) => v.finishedAt !== undefined, {
    what: 'the rollback',
  });
  const ids = await load.stop();
  t.is(ended.state, 'rolled_back');
  t.is(ended.step, 0, 'rolled back at the first step');
  t.like(ended.verdict, { result: 'FAIL' });
  t.regex(
    ended.reason,
    /analysis failed at step 0: error rate green 0\.\d+ vs blue 0 /,
    JSON.stringify(ended.green),
  );
  t.true(ended.green.failed > 0);

  const tasks = await allFinal(daemon, ids);
  for (const task of tasks) {
    t.is(task.state, 'done', `${task.id} ${task.state}`);
    t.is(completions(task), 1);
    // A task that failed on green was retried on blue.
    const history = task.history as ReleasedAttempt[];
    const failedOnGreen = history.findIndex(
      (a) => a.release?.pool === 'green' && a.outcome === 'error',
    );
    if (failedOnGreen >= 0)
      t.true(history.slice(failedOnGreen + 1).every((a) => a.release?.pool !== 'green'));
  }
  const s = await status(daemon);
  t.deepEqual(s.bots.map((b) => b.name).sort(), ['work-0', 'work-1']);
  const verdict = readLog(daemon, 'migration-log.jsonl').find(
    (l) => l.action === 'deploy.verdict' && l.result === 'FAIL',
  );
  t.truthy(verdict);
  t.is(typeof verdict?.greenErrorRate, 'number');
  t.is(typeof verdict?.blueErrorRate, 'number');
});

test('a v2 twice as slow (but never failing) is rolled back on latency', async (t) => {
  const daemon = await startDaemon(t, {
    config: testConfig({
      analysis: { p95LatencyMs: { relative: 1.5, floor: 20, critical: true } },
    }),
  });
  await waitForReadyBots(daemon, 2, 'work');
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const load = steadyLoad(connection, { everyMs: 10, payload: { ms: 40 } });
  await startV2(daemon, { HIVE_FIXTURE_SLOWDOWN: '2' });
  const ended = await waitDeploy(daemon, (v) => v.finishedAt !== undefined, {
    what: 'the rollback',
  });
  const ids = await load.stop();
  t.is(ended.state, 'rolled_back', ended.reason);
  t.regex(ended.reason, /p95 latency/);
  t.is(ended.green.failed, 0);
  const tasks = await allFinal(daemon, ids);
  t.true(tasks.every((task) => task.state === 'done' && completions(task) === 1));
});

test('a v2 that crashes at start is aborted within healthyDeadline; blue is untouched', async (t) => {
  const daemon = await startDaemon(t, {
    config: testConfig(
      { healthyDeadlineMs: 5_000 },
      { restart: { initialDelayMs: 50, maxDelayMs: 200 } },
    ),
  });
  const before = await waitForReadyBots(daemon, 2, 'work');
  const bluePids = before.bots.map((b) => b.pid).sort();
  const started = await startV2(daemon, { HIVE_FIXTURE_CRASH_AT_START: '1' });
  const ended = await waitDeploy(daemon, (v) => v.finishedAt !== undefined, {
    what: 'the abort',
  });
  t.is(ended.state, 'rolled_back');
  t.regex(ended.reason, /green crashed \d+ times|no green bot became ready/);
  t.true((ended.finishedAt ?? 0) - started.startedAt < 5_000 + 2_000);
  const after = await status(daemon);
  t.deepEqual(after.bots.map((b) => b.pid).sort(), bluePids);
  t.true(after.bots.every((b) => b.restarts === 0 && b.state === 'ready'));
});

test('abort with tasks running on green: green drains, the rest go to blue, all end done exactly once', async (t) => {
  const dir = tempDir(t);
  const daemon = await startDaemon(t, {
    config: testConfig({ steps: [50, 100], drainTimeoutMs: 300, minStepDurationMs: 60_000 }),
  });
  await waitForReadyBots(daemon, 2, 'work');
  await startV2(daemon);
  const { ids, release } = await heldTasksOnGreen(daemon, dir, { onGreen: 4 });
  const aborting = daemon.call('deploy.abort', { kind: 'work', reason: 'test abort' });
  // Green's drain time passes with its tasks still held: they go back to the queue.
  const ended = (await aborting) as { state: string; reason: string };
  t.is(ended.state, 'rolled_back');
  release();
  const tasks = await allFinal(daemon, ids);
  for (const task of tasks) {
    t.is(task.state, 'done');
    t.is(completions(task), 1);
    t.is((task.history as ReleasedAttempt[]).at(-1)?.release?.pool ?? 'blue', 'blue');
  }
  t.true(
    tasks.some((task) => task.history.some((a) => a.outcome === 'requeued')),
    'some tasks were taken back from green',
  );
  const s = await status(daemon);
  t.false(s.bots.some((b) => b.name.startsWith('work-g')));
  t.truthy(join(dir));
});
