import test from 'ava';
import { ConfigSchema } from '../../daemon/config/schema.ts';
import type { BotUsage } from '../../daemon/degradation/monitor.ts';
import { Shedder, shedShares } from '../../daemon/degradation/pressure.ts';
import { StuckWatch } from '../../daemon/degradation/stuck.ts';

const config = ConfigSchema.parse({
  degradation: {
    signals: {
      memory: { enterAt: 0.8, exitAt: 0.6, hardAt: 0.95 },
      queueDepth: { enterAt: 100, exitAt: 20 },
    },
    degraded: { shedMaxShare: 0.8, manualShedShare: 0.3 },
  },
}).degradation;

test('the shed share grows with pressure, per kind, instead of a cliff', (t) => {
  const share = (memory: number, depthA: number, manual = false) =>
    shedShares(
      [
        { signal: 'memory', value: memory, source: 'psi' },
        { signal: 'queueDepth', value: depthA, kind: 'a' },
        { signal: 'queueDepth', value: 0, kind: 'b' },
      ],
      ['a', 'b'],
      'degraded',
      manual,
      config,
    );
  // Queue depth of a: 0 at exitAt 20, half at enterAt 100, full (×0.8) at 180.
  t.deepEqual(
    [...share(0.1, 20)],
    [
      ['a', 0],
      ['b', 0],
    ],
  );
  t.is(share(0.1, 60).get('a'), 0.2);
  t.is(share(0.1, 100).get('a'), 0.4);
  t.is(share(0.1, 180).get('a'), 0.8);
  t.is(share(0.1, 500).get('a'), 0.8, 'capped at shedMaxShare');
  t.is(
    share(0.1, 500).get('b'),
    0,
    "b's own queue is fine: another kind's pressure sheds none of b",
  );
  // Host memory presses on every kind: 0.8625 is 3/4 of the way from exitAt 0.6 to hardAt 0.95.
  t.is(Math.round((share(0.8625, 0).get('b') ?? 0) * 1000) / 1000, 0.6);
  t.is(share(0.1, 0, true).get('b'), 0.3, 'a DEGRADED set by hand sheds its floor');
  t.is(shedShares([], ['a'], 'full', true, config).size, 0, 'nothing outside DEGRADED');
});

test('the shedder turns a share into exact, repeatable decisions', (t) => {
  const shedder = new Shedder();
  const decisions = Array.from({ length: 12 }, () => shedder.shed('a', 0.25));
  t.is(decisions.filter(Boolean).length, 3);
  t.deepEqual(decisions.slice(0, 4), [false, false, false, true]);
  t.true(Array.from({ length: 5 }, () => shedder.shed('b', 1)).every(Boolean));
  t.false(shedder.shed('c', 0));
});

const usage = (name: string, rssMb: number): BotUsage => ({
  name,
  kind: 'k',
  pid: 1,
  cpuRatio: 0,
  cpuSeconds: 0,
  rssBytes: rssMb * 1024 * 1024,
});

test('stuck: pressure without a break for afterMs restarts the largest bot, one at a time, capped per hour', (t) => {
  const watch = new StuckWatch({ afterMs: 60_000, maxRestartsPerHour: 2, candidates: 2 });
  const bots = [usage('small', 50), usage('leaky', 900), usage('medium', 300)];
  const minute = 60_000;
  t.is(watch.check(true, bots, 0), undefined);
  t.is(watch.check(true, bots, minute - 1), undefined);
  const first = watch.check(true, bots, minute);
  t.is(first && 'restart' in first ? first.restart.name : undefined, 'leaky');
  t.deepEqual(
    first?.candidates.map((b) => b.name),
    ['leaky', 'medium'],
  );
  t.is(watch.check(true, bots, minute + 1), undefined, 'the next needs another whole afterMs');
  t.true(watch.check(true, bots, 2 * minute) !== undefined);
  const capped = watch.check(true, bots, 3 * minute);
  t.true(capped !== undefined && 'capped' in capped, 'a third within the hour is refused, once');
  t.is(watch.check(true, bots, 4 * minute), undefined);
  t.is(watch.check(false, bots, 5 * minute), undefined, 'a calm sample resets the watch');
  t.is(watch.check(true, bots, 62 * minute), undefined);
  const later = watch.check(true, bots, 63 * minute);
  t.true(later !== undefined && 'restart' in later, 'an hour after the first, one more is allowed');
});
