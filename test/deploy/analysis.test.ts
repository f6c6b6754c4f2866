import test from 'ava';
import { DeploySchema } from '../../daemon/config/schema-deploy.ts';
import { analyse, PoolWindow } from '../../daemon/deploy/analysis.ts';
import { type DeployRecord, targetWeight } from '../../daemon/deploy/record.ts';
import { WeightedPools } from '../../daemon/deploy/weights.ts';
import type { SchedBot, SchedTask } from '../../daemon/scheduler/scheduler.ts';

const config = DeploySchema.parse({ minSamples: 10, minStepDurationMs: 100 });

function pool(done: number, failed: number, latencyMs = 10, timeouts = 0): PoolWindow {
  const w = new PoolWindow();
  for (let i = 0; i < done; i++) w.record('done', latencyMs);
  for (let i = 0; i < failed; i++) w.record('error', 0);
  for (let i = 0; i < timeouts; i++) w.record('timeout', 0);
  return w;
}

test('too few green samples, or too short a step: INCONCLUSIVE', (t) => {
  t.is(
    analyse({ green: pool(9, 0), blue: pool(100, 0), elapsedMs: 1000 }, config).result,
    'INCONCLUSIVE',
  );
  t.is(
    analyse({ green: pool(10, 0), blue: pool(100, 0), elapsedMs: 99 }, config).result,
    'INCONCLUSIVE',
  );
  t.is(analyse({ green: pool(10, 0), blue: pool(100, 0), elapsedMs: 100 }, config).result, 'PASS');
});

test('the floor keeps noise from failing a step; above relative and floor, a critical metric fails alone', (t) => {
  // 4% vs 0%: above blue × 1.5 but within the 5-point floor.
  t.is(analyse({ green: pool(96, 4), blue: pool(100, 0), elapsedMs: 1000 }, config).result, 'PASS');
  const failed = analyse({ green: pool(90, 10), blue: pool(100, 0), elapsedMs: 1000 }, config);
  t.is(failed.result, 'FAIL');
  t.regex(failed.reason, /error rate green 0\.100 vs blue 0/);
  t.is(failed.numbers.greenErrorRate, 0.1);
});

test('one non-critical metric off passes (noted); two fail', (t) => {
  const slow = analyse(
    { green: pool(100, 0, 100), blue: pool(100, 0, 10), elapsedMs: 1000 },
    config,
  );
  t.is(slow.result, 'PASS');
  t.regex(slow.reason, /one non-critical metric off: p95 latency/);
  const both = DeploySchema.parse({
    minSamples: 10,
    minStepDurationMs: 0,
    analysis: { errorRate: { critical: false } },
  });
  const two = analyse({ green: pool(80, 20, 100), blue: pool(100, 0, 10), elapsedMs: 1000 }, both);
  t.is(two.result, 'FAIL');
});

test('a crash fails at once, without samples; no blue to compare with is an ERROR', (t) => {
  const crashed = pool(0, 0);
  crashed.crashed();
  t.is(analyse({ green: crashed, blue: pool(0, 0), elapsedMs: 0 }, config).result, 'FAIL');
  t.is(analyse({ green: pool(20, 0), blue: pool(0, 0), elapsedMs: 1000 }, config).result, 'ERROR');
});

interface FakeBot extends SchedBot {
  release?: { pool: 'blue' | 'green'; version: string };
}

function bot(name: string, pool: 'blue' | 'green'): FakeBot {
  return {
    name,
    kind: 'work',
    inflight: { size: 0 },
    concurrency: 1,
    spec: { concurrency: 1 },
    adaptiveLimit: undefined,
    release: { pool, version: pool },
  };
}

const task = (history: SchedTask['history'] = []): SchedTask => ({
  id: 't',
  type: 'work',
  history,
});

test('weighted pools: exact shares by deficit; a saturated pool hands over; weight 0 never reaches green', (t) => {
  const pools = new WeightedPools();
  pools.set('work', new Set(['work']), 10);
  const both = [bot('work-0', 'blue'), bot('work-g0', 'green')];
  let green = 0;
  for (let i = 0; i < 1000; i++)
    if (pools.select(task(), both)[0]?.release?.pool === 'green') green++;
  t.is(green, 100);
  t.deepEqual(pools.counts('work'), { green: 100, blue: 900 });

  pools.set('work', new Set(['work']), 50);
  // Green has no free bot: blue takes the task rather than stalling.
  t.is(pools.select(task(), [bot('work-0', 'blue')])[0]?.name, 'work-0');
  // Blue full at 0%: nothing may go to green.
  pools.set('work', new Set(['work']), 0);
  t.deepEqual(pools.select(task(), [bot('work-g0', 'green')]), []);
  // Other types are not weighted.
  t.is(pools.select({ ...task(), type: 'other' }, both).length, 2);
});

test('weighted pools: a task that failed on green goes to blue', (t) => {
  const pools = new WeightedPools();
  pools.set('work', new Set(['work']), 100);
  const failed = task([
    {
      bot: 'work-g0',
      token: 1,
      startedAt: 0,
      outcome: 'error',
      release: { pool: 'green', version: 'v2' },
    },
  ]);
  const both = [bot('work-0', 'blue'), bot('work-g0', 'green')];
  t.is(pools.select(failed, both)[0]?.name, 'work-0');
  t.is(pools.select(task(), both)[0]?.name, 'work-g0');
});

test('target weight: 0 in STAGING and in a pause taken there, the step weight in a later pause', (t) => {
  const rec = (state: DeployRecord['state'], pausedFrom?: DeployRecord['state']) =>
    ({
      state,
      step: 1,
      steps: [10, 50, 100],
      ...(pausedFrom ? { pausedFrom } : {}),
    }) as DeployRecord;
  t.is(targetWeight(rec('staging')), 0);
  t.is(targetWeight(rec('paused', 'staging')), 0);
  t.is(targetWeight(rec('paused', 'shifting')), 50);
  t.is(targetWeight(rec('promoted')), 100);
  t.is(targetWeight(rec('rolled_back')), 0);
});
