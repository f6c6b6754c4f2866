/**
 * The adaptive scheduler on an injected clock and random source (a
 * discrete-event simulation of real Bot objects, see helpers/sched-sim.ts):
 * 4 bots × concurrency 4, 400 tasks/s, 10 ms a task.
 */
import test from 'ava';
import { percentile, share, simulate } from '../helpers/sched-sim.ts';

const SLOW_FROM = 60_000;
const SLOW_UNTIL = 120_000;

/** work-3 runs 5× slower between SLOW_FROM and SLOW_UNTIL. */
function slowdownRun(t: Parameters<typeof simulate>[0], policy: 'adaptive' | 'round-robin') {
  const sim = simulate(t, {
    bots: 4,
    concurrency: 4,
    rate: 400,
    scheduler: { policy },
    service: (bot, now, random) => {
      const slow = bot.name === 'work-3' && now >= SLOW_FROM && now < SLOW_UNTIL;
      return { ms: 10 * (0.9 + 0.2 * random()) * (slow ? 5 : 1), ok: true };
    },
  });
  sim.run(180_000);
  return sim;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

test('a bot slowed 5× loses most of its share within 30 s and wins it back gradually after it recovers', (t) => {
  const sim = slowdownRun(t, 'adaptive');
  const of = (from: number, to: number) => share(sim, 'work-3', from, to);
  const normal = of(30_000, SLOW_FROM);
  t.true(normal > 0.2 && normal < 0.3, `share before: ${pct(normal)}`);
  const slowed = of(SLOW_FROM + 25_000, SLOW_FROM + 30_000);
  t.log(`work-3's share: ${pct(normal)} before, ${pct(slowed)} 25–30 s into the slowdown`);
  t.true(slowed < normal / 4, 'it lost most of its share within 30 s');

  // Per second after it recovers: it starts low and climbs back over a few seconds.
  const after = Array.from({ length: 10 }, (_, s) =>
    of(SLOW_UNTIL + s * 1000, SLOW_UNTIL + (s + 1) * 1000),
  );
  t.log(`per second after the recovery: ${after.map(pct).join(', ')}`);
  t.true((after[0] ?? 1) < normal / 2, 'not back at once');
  t.true(
    after.some((x, i) => i > 0 && x > (after[0] ?? 0) && x < normal * 0.9),
    'climbs in steps',
  );
  const back = of(SLOW_UNTIL + 20_000, 180_000);
  t.true(back > normal * 0.8, `share won back: ${pct(back)}`);

  const row = sim.scheduling.report().rows.find((r) => r.bot === 'work-3');
  t.true((row?.score ?? 0) >= 90, 'its score is back up too');

  const roundRobin = slowdownRun(t, 'round-robin');
  const p95 = (s: typeof sim) => percentile(s.latencies(SLOW_FROM + 10_000, SLOW_UNTIL), 95);
  t.log(
    `p95 while slowed: adaptive ${p95(sim).toFixed(1)} ms, round-robin ${p95(roundRobin).toFixed(1)} ms`,
  );
  t.true(p95(roundRobin) / p95(sim) > 2, 'adaptive is at least 2× better than round-robin at p95');
});

test("a failing bot's concurrency falls to 1, and climbs back once it succeeds under load", (t) => {
  const FAIL_FROM = 10_000;
  const FAIL_UNTIL = 20_000;
  const sim = simulate(t, {
    bots: 4,
    concurrency: 8,
    // Near the pool's capacity (4 × 8 ÷ 20 ms = 1,600/s): every bot is kept busy.
    rate: 1_400,
    service: (bot, now) => ({
      ms: 20,
      ok: !(bot.name === 'work-2' && now >= FAIL_FROM && now < FAIL_UNTIL),
    }),
  });
  const failing = sim.bots[2];
  sim.run(FAIL_FROM);
  t.is(failing?.concurrency, 8);
  sim.run(FAIL_FROM + 2_000);
  t.is(failing?.concurrency, 1, 'multiplicative decrease down to the floor');
  t.is(failing?.adaptiveLimit, 1);
  const row = sim.scheduling.report().rows.find((r) => r.bot === 'work-2');
  t.like(row, { concurrency: 1, configuredConcurrency: 8, adaptiveLimit: 1 });
  sim.run(FAIL_UNTIL);
  t.is(failing?.concurrency, 1, 'still failing: stays at 1');
  const score = sim.scheduling.report().rows.find((r) => r.bot === 'work-2')?.score ?? 100;
  t.log(`its score after 10 s of failures: ${score}`);
  t.true(score < 50, 'a failing bot scores low');
  for (const other of sim.bots.filter((b) => b !== failing)) t.is(other.concurrency, 8);

  // Additive increase: one more task per limit-many successes (a 20 ms task: a step every few ms).
  const climb: number[] = [];
  for (let ms = 25; ms <= 1_000; ms += 25) {
    sim.run(FAIL_UNTIL + ms);
    climb.push(failing?.concurrency ?? 0);
  }
  t.log(`concurrency every 25 ms after it recovers: ${climb.join(', ')}`);
  t.is(climb.at(-1), 8, 'back to its configured concurrency');
  t.true(
    climb.every((c, i) => i === 0 || c >= (climb[i - 1] ?? 0)),
    'it only climbs',
  );
  t.true(climb.filter((c) => c < 8).length >= 4, 'step by step, not at once');
  t.true(new Set(climb).size >= 4, 'through the values between');
});

test('a new bot starts at the pool median: neither flooded nor starved', (t) => {
  const sim = simulate(t, {
    bots: 4,
    concurrency: 4,
    rate: 400,
    service: (_bot, _now, random) => ({ ms: 10 * (0.9 + 0.2 * random()), ok: true }),
  });
  sim.run(30_000);
  const fresh = sim.addBot();
  sim.run(32_000);
  const first = share(sim, fresh.name, 30_000, 32_000);
  t.log(`the new bot's share in its first 2 s: ${pct(first)} (a fifth would be 20 %)`);
  t.true(first > 0.1 && first < 0.35);
  sim.run(60_000);
  const later = share(sim, fresh.name, 40_000, 60_000);
  t.true(later > 0.15 && later < 0.25, `later: ${pct(later)}`);
});
