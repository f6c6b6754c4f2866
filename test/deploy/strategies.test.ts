import test from 'ava';
import type { DeploymentView } from '../../protocol/deploy.ts';
import { startDaemon, status, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import {
  allFinal,
  completions,
  startV2,
  steadyLoad,
  testConfig,
  versionServing,
  waitDeploy,
} from '../helpers/deploy.ts';

test('bluegreen: green is judged on a small share, then takes 100% at once', async (t) => {
  const daemon = await startDaemon(t, {
    config: testConfig({ strategy: 'bluegreen', bluegreenShare: 20 }),
  });
  await waitForReadyBots(daemon, 2, 'work');
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const load = steadyLoad(connection);
  const started = await startV2(daemon);
  t.like(started, { strategy: 'bluegreen', steps: [20, 100] });
  const weights = new Set<number>();
  const ended = await waitDeploy(daemon, (v) => {
    if (v.state === 'canary' || v.state === 'shifting') weights.add(v.weight.target);
    return v.finishedAt !== undefined;
  });
  const ids = await load.stop();
  t.is(ended.state, 'promoted', ended.reason);
  t.deepEqual([...weights], [20]);
  const tasks = await allFinal(daemon, ids);
  t.true(tasks.every((task) => task.state === 'done' && completions(task) === 1));
});

test('DEGRADED pauses shifting (status says why); back in FULL the deployment goes on', async (t) => {
  const daemon = await startDaemon(t, { config: testConfig() });
  await waitForReadyBots(daemon, 2, 'work');
  await daemon.call('mode.set', { mode: 'degraded', reason: 'deploy test' });
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const load = steadyLoad(connection);
  await startV2(daemon);
  const held = await waitDeploy(daemon, (v) => v.waiting !== undefined, {
    what: 'the shift to wait for the mode',
  });
  t.is(held.state, 'canary');
  t.regex(held.waiting ?? '', /shifting paused: hived is DEGRADED/);
  // Plenty of green samples meanwhile, and still no step forward.
  await waitDeploy(daemon, (v) => v.green.done >= 40, { what: '40 green samples' });
  t.is((await waitDeploy(daemon, () => true)).step, 0);
  await daemon.call('mode.auto', {});
  const ended = await waitDeploy(daemon, (v) => v.finishedAt !== undefined);
  const ids = await load.stop();
  t.is(ended.state, 'promoted', ended.reason);
  const tasks = await allFinal(daemon, ids);
  t.true(tasks.every((task) => task.state === 'done' && completions(task) === 1));
});

test('a new deploy start mid-deployment aborts the current one and starts over with one green pool', async (t) => {
  const daemon = await startDaemon(t, { config: testConfig({ minStepDurationMs: 60_000 }) });
  await waitForReadyBots(daemon, 2, 'work');
  const first = await startV2(daemon);
  await waitDeploy(daemon, (v) => v.state === 'canary');
  const second = await startV2(daemon, { HIVE_FIXTURE_VERSION: 'v3' });
  t.not(second.id, first.id);
  t.is(second.state, 'staging');
  const { deployments } = (await daemon.call('deploy.history', { kind: 'work' })) as {
    deployments: DeploymentView[];
  };
  t.like(deployments[0], { id: first.id, state: 'rolled_back' });
  t.regex(deployments[0]?.reason ?? '', /superseded by a new deploy start/);
  await waitDeploy(daemon, (v) => v.state === 'canary');
  const s = await status(daemon);
  const green = s.bots.filter((b) => b.name.startsWith('work-g'));
  t.is(green.length, 2, green.map((b) => b.name).join());
});

test('promote by hand: a step at a time, --full to PROMOTED; abort during the bake routes back to the warm blue', async (t) => {
  const daemon = await startDaemon(t, {
    config: testConfig({ minStepDurationMs: 60_000, bakeTimeMs: 60_000 }),
  });
  const before = await waitForReadyBots(daemon, 2, 'work');
  const bluePids = before.bots.map((b) => b.pid).sort();
  await startV2(daemon);
  await waitDeploy(daemon, (v) => v.state === 'canary');
  const next = (await daemon.call('deploy.promote', { kind: 'work' })) as DeploymentView;
  t.like(next, { state: 'shifting', step: 1, weight: { target: 50, achieved: null } });
  const full = (await daemon.call('deploy.promote', {
    kind: 'work',
    full: true,
  })) as DeploymentView;
  t.like(full, { state: 'promoted', weight: { target: 100, achieved: null } });
  const { backups } = (await daemon.call('backup.ls', {})) as { backups: { source: string }[] };
  t.true(backups.some((b) => b.source === 'pre-promote'));

  t.is(await versionServing(daemon), 'v2');

  const rolled = (await daemon.call('deploy.abort', {
    kind: 'work',
    reason: 'bake showed a problem',
  })) as DeploymentView;
  t.is(rolled.state, 'rolled_back');
  t.regex(rolled.reason, /rolled back during the bake/);
  const after = await waitFor(async () => {
    const s = await status(daemon);
    return s.bots.every((b) => !b.name.startsWith('work-g')) ? s : undefined;
  });
  t.deepEqual(after.bots.map((b) => b.pid).sort(), bluePids);
  t.is(await versionServing(daemon), 'v1');
});
