import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { DeploymentView } from '../../protocol/deploy.ts';
import {
  type DaemonHandle,
  startDaemon,
  status,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import {
  allFinal,
  completions,
  heldTasksOnGreen,
  type ReleasedAttempt,
  startV2,
  steadyLoad,
  testConfig,
  versionServing,
  waitDeploy,
} from '../helpers/deploy.ts';
import { alive, waitGone } from '../helpers/fleet.ts';

/** The state of the work kind's deployment as db/deployments.json holds it now. */
function persistedState(daemon: DaemonHandle): string | undefined {
  try {
    const doc = JSON.parse(readFileSync(join(daemon.stateDir, 'db', 'deployments.json'), 'utf8'));
    return (doc as { active: Record<string, { state: string }> }).active.work?.state;
  } catch {
    return undefined; // not written yet, or caught mid-rename
  }
}

/**
 * Kills hived with SIGKILL once the deployment is in `state` on disk (the
 * view changes a moment before the record is durable; a kill in between
 * rightly resumes the state before); returns the pids of its green bots.
 */
async function killAt(daemon: DaemonHandle, state: DeploymentView['state']): Promise<number[]> {
  await waitDeploy(daemon, (v) => v.state === state, { what: `state ${state}` });
  await waitFor(() => persistedState(daemon) === state, { what: `state ${state} on disk` });
  const pids = (await status(daemon)).bots
    .filter((b) => b.name.startsWith('work-g'))
    .map((b) => b.pid)
    .filter((p): p is number => p !== null);
  daemon.kill('SIGKILL');
  await daemon.exited;
  return pids;
}

function greenNames(s: { bots: { name: string }[] }): string[] {
  return s.bots
    .filter((b) => b.name.startsWith('work-g'))
    .map((b) => b.name)
    .sort();
}

for (const state of ['staging', 'canary', 'shifting'] as const) {
  test(`kill -9 of hived in ${state}: the restart resumes at the step with one green pool; every task ends done once`, async (t) => {
    const config = testConfig({
      minHealthyTimeMs: 600,
      minStepDurationMs: 600,
      steps: [10, 50, 100],
    });
    const first = await startDaemon(t, { config });
    await waitForReadyBots(first, 2, 'work');
    const c1 = await first.connect();
    const load1 = steadyLoad(c1, { everyMs: 5 });
    await startV2(first);
    const before = await waitDeploy(first, (v) => v.state === state);
    const oldGreen = await killAt(first, state);
    const ids = [...(await load1.stop().catch(() => load1.ids))];
    c1.close();
    await waitGone(oldGreen, 10_000);

    const second = await startDaemon(t, { stateDir: first.stateDir });
    const resumed = await waitDeploy(second, () => true);
    t.is(resumed.id, before.id);
    t.true(resumed.step >= 0 && resumed.state !== 'rolled_back', resumed.state);
    t.regex(resumed.reason, /resumed|step/);
    const c2 = await second.connect();
    t.teardown(() => c2.close());
    const load2 = steadyLoad(c2, { everyMs: 5 });
    const ended = await waitDeploy(
      second,
      (v) => {
        t.true(v.green.bots.length <= 2, `green bots: ${v.green.bots.join()}`);
        return v.finishedAt !== undefined;
      },
      { what: 'the resumed deployment to finish' },
    );
    ids.push(...(await load2.stop()));
    t.is(ended.state, 'promoted', ended.reason);
    const s = await status(second);
    t.deepEqual(greenNames(s), ['work-g0', 'work-g1']);
    t.false(oldGreen.some(alive));
    const tasks = await allFinal(second, ids.filter(Boolean));
    for (const task of tasks) {
      t.is(task.state, 'done', task.id);
      t.is(completions(task), 1, task.id);
    }
  });
}

test('kill -9 during the bake: the restart keeps the promoted version and ends the deployment promoted', async (t) => {
  const first = await startDaemon(t, { config: testConfig({ bakeTimeMs: 120_000 }) });
  await waitForReadyBots(first, 2, 'work');
  await startV2(first);
  await first.call('deploy.promote', { kind: 'work', full: true });
  await killAt(first, 'promoted');
  const second = await startDaemon(t, { stateDir: first.stateDir });
  const view = await waitDeploy(second, (v) => v.finishedAt !== undefined);
  t.is(view.state, 'promoted');
  t.regex(view.reason, /bake cut short by a daemon restart/);
  await waitForReadyBots(second, 2, 'work');
  t.is(await versionServing(second), 'v2');
  t.deepEqual(greenNames(await status(second)), []);
});

test('kill -9 with deploy.onRestart revert: the restart rolls back; only blue runs', async (t) => {
  const first = await startDaemon(t, {
    config: testConfig({ onRestart: 'revert', minStepDurationMs: 60_000 }),
  });
  await waitForReadyBots(first, 2, 'work');
  await startV2(first);
  await killAt(first, 'canary');
  const second = await startDaemon(t, { stateDir: first.stateDir });
  const view = await waitDeploy(second, (v) => v.finishedAt !== undefined);
  t.is(view.state, 'rolled_back');
  t.regex(view.reason, /reverted/);
  const s = await waitForReadyBots(second, 2, 'work');
  t.deepEqual(greenNames(s), []);
  t.is(await versionServing(second), 'v1');
});

test('kill -9 while a rollback drains green: the restart finishes it; the held tasks end done once, on blue', async (t) => {
  const dir = tempDir(t);
  const first = await startDaemon(t, {
    config: testConfig({ steps: [50, 100], minStepDurationMs: 60_000, drainTimeoutMs: 60_000 }),
  });
  await waitForReadyBots(first, 2, 'work');
  await startV2(first);
  const { ids, release } = await heldTasksOnGreen(first, dir);
  void first.call('deploy.abort', { kind: 'work', reason: 'test' }).catch(() => {});
  const oldGreen = await killAt(first, 'rolled_back');
  await waitGone(oldGreen, 10_000);
  const second = await startDaemon(t, { stateDir: first.stateDir });
  const view = await waitDeploy(second, (v) => v.finishedAt !== undefined);
  t.is(view.state, 'rolled_back');
  t.regex(view.reason, /finished after a daemon restart/);
  release();
  const tasks = await allFinal(second, ids);
  for (const task of tasks) {
    t.is(task.state, 'done');
    t.is(completions(task), 1);
    t.not((task.history.at(-1) as ReleasedAttempt).release?.pool, 'green');
  }
  t.deepEqual(greenNames(await status(second)), []);
});
