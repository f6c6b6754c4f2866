import test from 'ava';
import type { DeploymentView } from '../../protocol/deploy.ts';
import { startDaemon, waitForReadyBots } from '../helpers/daemon.ts';
import {
  deployStatus,
  everyTaskDoneOnce,
  startV2,
  steadyLoad,
  testConfig,
  versionServing,
  waitDeploy,
} from '../helpers/deploy.ts';
import { readLog } from '../helpers/fleet.ts';

test('a good v2 under steady load goes through every step to PROMOTED; every task ends done exactly once', async (t) => {
  const daemon = await startDaemon(t, { config: testConfig() });
  await waitForReadyBots(daemon, 2, 'work');
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const load = steadyLoad(connection);

  const started = await startV2(daemon);
  t.like(started, { kind: 'work', state: 'staging', strategy: 'canary', steps: [10, 50, 100] });
  t.regex(started.green.version, /^versioned\.ts@[0-9a-f]{8}$/);
  const seen = new Set<string>();
  const steps = new Set<number>();
  const done = await waitDeploy(
    daemon,
    (view) => {
      seen.add(view.state);
      if (view.state === 'canary' || view.state === 'shifting') steps.add(view.step);
      return view.finishedAt !== undefined;
    },
    { what: 'the deployment to finish' },
  );
  const ids = await load.stop();
  t.is(done.state, 'promoted', done.reason);
  t.true(seen.has('canary') || steps.has(0), [...seen].join());
  t.true(steps.has(2) || seen.has('promoted'), [...steps].join());

  const attempts = await everyTaskDoneOnce(t, daemon, ids);
  t.true(
    attempts.some((a) => a.release?.pool === 'green' && a.release.version === done.green.version),
  );
  t.true(attempts.some((a) => a.release?.pool === 'blue' && a.release.version === 'config'));

  // The kind now runs v2 only; status shows the history, the log and the trail the actions.
  const { bots } = (await daemon.call('status')) as { bots: { name: string; state: string }[] };
  t.deepEqual(
    bots
      .filter((b) => b.state === 'ready')
      .map((b) => b.name)
      .sort(),
    ['work-g0', 'work-g1'],
  );
  t.is(await versionServing(daemon), 'v2');
  const { deployments } = (await daemon.call('deploy.history', { kind: 'work' })) as {
    deployments: DeploymentView[];
  };
  t.is(deployments[0]?.state, 'promoted');
  const lines = readLog(daemon, 'migration-log.jsonl');
  for (const action of [
    'deploy.started',
    'deploy.step',
    'deploy.verdict',
    'deploy.promoted',
    'deploy.finished',
  ])
    t.true(
      lines.some((l) => l.action === action),
      action,
    );
  const { entries } = (await daemon.call('audit.query', { action: 'deploy' })) as {
    entries: { action: string }[];
  };
  t.true(entries.some((e) => e.action === 'deploy.promoted'));
  t.is((await deployStatus(daemon)).state, 'promoted');
});
