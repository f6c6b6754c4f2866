import { relative } from 'node:path';
import test from 'ava';
import type { DeploymentView } from '../../protocol/deploy.ts';
import { ROOT, runHive, startDaemon, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { testConfig, VERSIONED, waitDeploy } from '../helpers/deploy.ts';

test('hive deploy start, status, pause, resume, abort, history and retry from the command line', async (t) => {
  const daemon = await startDaemon(t, { config: testConfig({ minStepDurationMs: 60_000 }) });
  await waitForReadyBots(daemon, 2, 'work');
  const hive = (...args: string[]) => runHive([...args, '--socket', daemon.socket]);

  const missing = await hive('deploy', 'start', 'work');
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--command is required/);
  const bad = await hive('deploy', 'start', 'work', '--command', '/nonexistent/v2.js', '--json');
  t.is(bad.code, 1);
  t.is(JSON.parse(bad.stdout).error.code, 'HIVE_DEPLOY_INVALID');

  // A relative path is made absolute where it is typed (the test runs from the project root).
  const started = await hive(
    'deploy',
    'start',
    'work',
    '--command',
    `./${relative(ROOT, VERSIONED)}`,
    '--env',
    'HIVE_FIXTURE_VERSION=v2',
    '--steps',
    '20,100',
    '--version',
    'v2',
    '--concurrency',
    '2',
  );
  t.is(started.code, 0, started.stderr);
  t.regex(started.stdout, /state:\s+STAGING/);
  t.regex(started.stdout, /\[20\] → 100/);
  await waitDeploy(daemon, (v) => v.state === 'canary');
  const status = await hive('status');
  t.regex(status.stdout, /^deploy: work CANARY, green v2 at 20%/m, 'hive status names it');

  // The new version's own limit; blue keeps the kind's.
  const { bots } = (await daemon.call('status')) as {
    bots: { name: string; concurrency: number }[];
  };
  t.deepEqual(bots.map((b) => `${b.name}:${b.concurrency}`).sort(), [
    'work-0:4',
    'work-1:4',
    'work-g0:2',
    'work-g1:2',
  ]);
  const shown = await hive('deploy', 'status', 'work');
  t.regex(shown.stdout, /state:\s+CANARY/);
  t.regex(shown.stdout, /green\s+v2\s+work-g0,work-g1/);
  const json = await hive('deploy', 'status', '--json');
  const view = JSON.parse(json.stdout) as { deployments: DeploymentView[] };
  t.like(view.deployments[0], { kind: 'work', state: 'canary', steps: [20, 100] });

  // A task's attempts name the pool and version that ran them.
  const { id } = (await daemon.call('task.submit', { type: 'work', payload: {} })) as {
    id: string;
  };
  await daemon.call('task.wait', { id, timeoutMs: 15_000 });
  t.regex((await hive('task', 'get', id)).stdout, /work-g?\d \((blue config|green v2)\)/);

  t.is((await hive('deploy', 'pause', 'work', '--reason', 'look first')).code, 0);
  t.is((await waitDeploy(daemon, () => true)).state, 'paused');
  const again = await hive('deploy', 'pause', 'work', '--json');
  t.is(JSON.parse(again.stdout).error.code, 'HIVE_DEPLOY_BAD_STATE');
  t.is((await hive('deploy', 'resume', 'work')).code, 0);

  const noReason = await hive('deploy', 'abort', 'work');
  t.regex(noReason.stderr, /--reason is required/);
  const aborted = await hive('deploy', 'abort', 'work', '--reason', 'changed my mind');
  t.is(aborted.code, 0, aborted.stderr);
  t.regex(aborted.stdout, /ROLLED_BACK/);
  const history = await hive('deploy', 'history', 'work');
  t.regex(history.stdout, /work-1\s+work\s+rolled_back\s+20%\s+v2/);
  // With none under way, status shows how the kind's last one ended.
  const ended = JSON.parse((await hive('deploy', 'status', '--json')).stdout) as {
    deployments: DeploymentView[];
  };
  t.like(ended.deployments[0], { id: 'work-1', state: 'rolled_back', reason: 'changed my mind' });
  const none = await hive('deploy', 'abort', 'work', '--reason', 'x', '--json');
  t.is(JSON.parse(none.stdout).error.code, 'HIVE_DEPLOY_NOT_FOUND');

  const retried = await hive('deploy', 'retry', 'work', '--json');
  t.like(JSON.parse(retried.stdout), { id: 'work-2', state: 'staging', steps: [20, 100] });
});

test('deploy.status follow: the current view, then every state change as it happens', async (t) => {
  const daemon = await startDaemon(t, { config: testConfig({ minStepDurationMs: 60_000 }) });
  await waitForReadyBots(daemon, 2, 'work');
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const states: string[] = [];
  let frames = 0;
  const following = connection.request(
    'deploy.status',
    { kind: 'work', follow: true },
    {
      onEvent: (event) => {
        frames += 1;
        for (const view of (event as { deployments: DeploymentView[] }).deployments)
          states.push(view.state);
      },
    },
  );
  // The first frame (no deployment yet) says the follow is in place.
  await waitFor(() => frames > 0, { what: 'the first frame' });
  t.deepEqual(states, []);
  await daemon.call('deploy.start', {
    kind: 'work',
    command: VERSIONED,
    env: { HIVE_FIXTURE_VERSION: 'v2' },
  });
  await waitFor(() => states.includes('canary'), { what: 'canary in the followed views' });
  await daemon.call('deploy.abort', { kind: 'work', reason: 'seen enough' });
  await waitFor(() => states.includes('rolled_back'), { what: 'the rollback followed' });
  t.is(states[0], 'staging');
  connection.cancel();
  await following.catch(() => {});
});
