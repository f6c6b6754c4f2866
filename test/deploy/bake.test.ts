import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { DeploySchema } from '../../daemon/config/schema-deploy.ts';
import { analyseBake, PoolWindow } from '../../daemon/deploy/analysis.ts';
import { startDaemon, status, tempDir, waitForReadyBots } from '../helpers/daemon.ts';
import {
  allFinal,
  everyTaskDoneOnce,
  type ReleasedAttempt,
  startV2,
  steadyLoad,
  testConfig,
  versionServing,
  waitDeploy,
} from '../helpers/deploy.ts';
import { readLog } from '../helpers/fleet.ts';

function pool(done: number, failed: number, timeouts = 0): PoolWindow {
  const w = new PoolWindow();
  for (let i = 0; i < done; i++) w.record('done', 10);
  for (let i = 0; i < failed; i++) w.record('error', 0);
  for (let i = 0; i < timeouts; i++) w.record('timeout', 0);
  return w;
}

test('the bake analysis: rates against the last step, minSamples first, no latency, floors without blue', (t) => {
  const config = DeploySchema.parse({ minSamples: 10 });
  const judge = (green: PoolWindow, blue: PoolWindow) =>
    analyseBake({ green, blue, elapsedMs: 0 }, config);
  t.is(judge(pool(0, 9), pool(100, 0)).result, 'INCONCLUSIVE');
  t.is(judge(pool(90, 10), pool(100, 0)).result, 'FAIL');
  t.regex(judge(pool(90, 10), pool(100, 0)).reason, /error rate green 0\.100 vs blue 0/);
  t.is(judge(pool(90, 0, 10), pool(100, 0)).result, 'FAIL');
  // Within blue × relative of the last step's baseline: passes.
  t.is(judge(pool(90, 10), pool(90, 10)).result, 'PASS');
  // No blue numbers at all: the floor is the limit.
  t.is(judge(pool(96, 4), new PoolWindow()).result, 'PASS');
  t.is(judge(pool(90, 10), new PoolWindow()).result, 'FAIL');
  // Latency is not judged in the bake.
  const slow = new PoolWindow();
  for (let i = 0; i < 20; i++) slow.record('done', 1000);
  t.is(judge(slow, pool(100, 0)).result, 'PASS');
});

/**
 * A daemon with blue under steady load and a v2 that breaks (`mode`) once
 * it is promoted: returns when the bake has begun and v2 is broken.
 */
async function brokenInTheBake(
  t: ExecutionContext,
  mode: 'crash' | 'fail',
  deploy: Record<string, unknown>,
) {
  const breakFile = join(tempDir(t), 'break');
  const daemon = await startDaemon(t, {
    config: testConfig(deploy, { restart: { initialDelayMs: 50, maxDelayMs: 200 } }),
  });
  const before = await waitForReadyBots(daemon, 2, 'work');
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const load = steadyLoad(connection);
  await startV2(daemon, { HIVE_FIXTURE_BREAK_FILE: breakFile, HIVE_FIXTURE_BREAK_MODE: mode });
  const promoted = await waitDeploy(
    daemon,
    (v) => v.state === 'promoted' || v.finishedAt !== undefined,
    { what: 'the promotion' },
  );
  t.is(promoted.state, 'promoted', promoted.reason);
  writeFileSync(breakFile, '');
  return { daemon, load, bluePids: before.bots.map((b) => b.pid).sort() };
}

for (const mode of ['crash', 'fail'] as const) {
  test(`a v2 that passes the steps and ${mode === 'crash' ? 'crashes' : 'fails its tasks'} in the bake is rolled back to the warm blue; every task ends done once`, async (t) => {
    const { daemon, load, bluePids } = await brokenInTheBake(t, mode, { bakeTimeMs: 120_000 });
    const ended = await waitDeploy(daemon, (v) => v.finishedAt !== undefined, {
      what: 'the rollback in the bake',
    });
    const ids = await load.stop();
    t.is(ended.state, 'rolled_back', ended.reason);
    t.regex(
      ended.reason,
      mode === 'crash'
        ? /^rolled back during the bake: bake gate: green crashed \d+ times within \d+ ms/
        : /^rolled back during the bake: bake gate: error rate green [\d.]+ vs blue [\d.]+ /,
    );
    t.like(ended.verdict, { result: 'FAIL' });
    t.regex(ended.verdict?.reason ?? '', /^bake gate: /);
    // Status shows the bake window's numbers behind it.
    if (mode === 'fail') t.true(ended.green.failed > 0, JSON.stringify(ended.green));
    else t.true(ended.green.crashes > 0, JSON.stringify(ended.green));
    // Well before the bake would have ended.
    t.true((ended.finishedAt ?? 0) - ended.startedAt < 120_000);

    const attempts = await everyTaskDoneOnce(t, daemon, ids);
    t.true(attempts.some((a) => a.release?.pool === 'green' && a.outcome !== 'done'));

    // A routing change back to the still-running blue: the same blue processes, no green.
    const after = await status(daemon);
    t.deepEqual(after.bots.map((b) => b.name).sort(), ['work-0', 'work-1']);
    t.deepEqual(after.bots.map((b) => b.pid).sort(), bluePids);
    t.is(await versionServing(daemon), 'v1');

    const lines = readLog(daemon, 'migration-log.jsonl');
    const verdict = lines.find(
      (l) =>
        l.action === 'deploy.verdict' &&
        l.result === 'FAIL' &&
        String(l.message).includes('bake gate'),
    );
    t.truthy(verdict, JSON.stringify(lines.filter((l) => l.action === 'deploy.verdict')));
    t.is(typeof verdict?.greenErrorRate, 'number');
    t.is(typeof verdict?.blueErrorRate, 'number');
    t.is(typeof verdict?.greenCrashes, 'number');
    t.true(lines.some((l) => l.action === 'deploy.rolled_back'));
    const { entries } = (await daemon.call('audit.query', { action: 'deploy' })) as {
      entries: { action: string }[];
    };
    t.true(entries.some((e) => e.action === 'deploy.rolled_back'));
  });
}

test('deploy.bakeGates false: a v2 failing in the bake stays promoted (a rollback then is by hand)', async (t) => {
  const { daemon, load } = await brokenInTheBake(t, 'fail', {
    bakeTimeMs: 3_000,
    bakeGates: false,
  });
  const ended = await waitDeploy(daemon, (v) => v.finishedAt !== undefined, {
    what: 'the end of the bake',
  });
  const ids = await load.stop();
  t.is(ended.state, 'promoted', ended.reason);
  // v2 did fail in the bake (attempts labelled green end before the deployment does).
  const attempts = (await allFinal(daemon, ids)).flatMap(
    (task) => task.history as ReleasedAttempt[],
  );
  t.true(attempts.some((a) => a.release?.pool === 'green' && a.outcome === 'error'));
});
