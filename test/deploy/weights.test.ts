import test from 'ava';
import type { DeploymentView } from '../../protocol/deploy.ts';
import { startDaemon, waitForReadyBots } from '../helpers/daemon.ts';
import {
  allFinal,
  type ReleasedAttempt,
  startV2,
  testConfig,
  waitDeploy,
} from '../helpers/deploy.ts';

test('an idle queue: the deployment holds INCONCLUSIVE, never promotes, and pauses past maxHold', async (t) => {
  const daemon = await startDaemon(t, {
    config: testConfig({ maxHoldMs: 1_000, onMaxHold: 'pause' }),
  });
  await waitForReadyBots(daemon, 2, 'work');
  await startV2(daemon);
  const states = new Set<string>();
  const paused = await waitDeploy(
    daemon,
    (v) => {
      states.add(v.state);
      return v.state === 'paused';
    },
    { what: 'the pause past maxHold' },
  );
  t.false(states.has('promoted'));
  t.false(states.has('shifting'));
  t.is(paused.step, 0);
  t.like(paused.verdict, { result: 'INCONCLUSIVE' });
  t.regex(paused.verdict?.reason ?? '', /0 of 20 green samples/);
  t.regex(paused.reason, /held inconclusive past maxHold/);
  // Resumed, it holds again: still no data, still no promotion.
  await daemon.call('deploy.resume', { kind: 'work' });
  const again = await waitDeploy(daemon, (v) => v.state === 'paused', {
    what: 'the second pause',
  });
  t.is(again.step, 0);
  const aborted = (await daemon.call('deploy.abort', {
    kind: 'work',
    reason: 'done testing',
  })) as DeploymentView;
  t.is(aborted.state, 'rolled_back');
});

test('weight 10 with 1 green and 9 blue bots: green gets 10% ± 3 points of 2,000 tasks', async (t) => {
  const daemon = await startDaemon(t, {
    config: testConfig(
      { steps: [10, 100], minStepDurationMs: 600_000, maxHoldMs: 600_000 },
      { instances: 9, concurrency: 2 },
    ),
  });
  await waitForReadyBots(daemon, 9, 'work');
  await startV2(daemon, {}, { instances: 1 });
  await waitDeploy(daemon, (v) => v.state === 'canary', { what: 'the canary step' });
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const ids: string[] = [];
  for (let batch = 0; batch < 40; batch++) {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        connection.request('task.submit', { type: 'work', payload: { n: batch * 50 + i, ms: 1 } }),
      ),
    );
    for (const a of answers) ids.push((a as { id: string }).id);
  }
  const tasks = await allFinal(daemon, ids, 120_000);
  const firstAttempts = tasks.map((task) => (task.history as ReleasedAttempt[])[0]);
  const green = firstAttempts.filter((a) => a?.release?.pool === 'green').length;
  const share = (green / tasks.length) * 100;
  t.true(share >= 7 && share <= 13, `green ran ${green} of ${tasks.length} (${share.toFixed(1)}%)`);
  const view = await waitDeploy(daemon, () => true);
  t.is(view.weight.target, 10);
  t.true(
    view.weight.achieved !== null && view.weight.achieved >= 7 && view.weight.achieved <= 13,
    `achieved ${view.weight.achieved}`,
  );
  t.true(tasks.every((task) => task.state === 'done'));
});
