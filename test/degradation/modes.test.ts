import test from 'ava';
import { ConfigSchema } from '../../daemon/config/schema.ts';
import { type AutoChange, ModeMachine, type ModeSettings } from '../../daemon/degradation/modes.ts';
import type { SignalReading } from '../../daemon/degradation/monitor.ts';
import type { Mode } from '../../protocol/health.ts';

const SECOND = 1000;

function settings(overrides: Record<string, unknown> = {}): ModeSettings {
  return ConfigSchema.parse({
    degradation: {
      consecutiveSamples: 3,
      transitionPeriodMs: 10 * SECOND,
      minDwellMs: 5 * SECOND,
      signals: { memory: { enterAt: 0.8, exitAt: 0.6, hardAt: 0.95 } },
      ...overrides,
    },
  }).degradation;
}

/** Feeds one memory reading per second from `values`; returns every change. */
function run(machine: ModeMachine, values: number[], start = 0): AutoChange[] {
  const changes: AutoChange[] = [];
  values.forEach((value, i) => {
    const reading: SignalReading = { signal: 'memory', value, source: 'test' };
    const change = machine.evaluate([reading], start + i * SECOND);
    if (change) changes.push(change);
  });
  return changes;
}

const path = (changes: AutoChange[]): Mode[] => changes.map((c) => c.to);

test('a sawtooth ±2% around enterAt makes at most one transition, however it alternates', (t) => {
  for (const period of [1, 2, 3, 5, 8]) {
    const machine = new ModeMachine(settings(), 0);
    // `period` samples at enterAt + 2%, then `period` at enterAt - 2%, for 10 minutes.
    const values = Array.from({ length: 600 }, (_, i) =>
      Math.floor(i / period) % 2 === 0 ? 0.816 : 0.784,
    );
    const changes = run(machine, values);
    t.true(changes.length <= 1, `period ${period}: ${JSON.stringify(path(changes))}`);
    // Runs of 3 or more at enterAt escalate once; the dips never reach exitAt, so it stays.
    t.deepEqual(path(changes), period >= 3 ? ['degraded'] : [], `period ${period}`);
  }
});

test('escalation needs N samples in a row at enterAt; a hard threshold jumps at once', (t) => {
  const machine = new ModeMachine(settings(), 0);
  t.deepEqual(path(run(machine, [0.85, 0.85, 0.5, 0.85, 0.5])), [], 'two in a row is not three');
  const [degraded] = run(machine, [0.85, 0.86, 0.87], 10 * SECOND);
  t.is(degraded?.to, 'degraded');
  t.is(degraded?.signal, 'memory');
  t.is(degraded?.threshold, 0.8);
  t.regex(degraded?.reason ?? '', /memory at 0\.87 ≥ enterAt 0\.8 for 3 samples/);

  const fresh = new ModeMachine(settings(), 0);
  const [hard] = run(fresh, [0.2, 0.96]);
  t.is(hard?.to, 'maintenance', 'hardMode maintenance, one sample');
  t.is(hard?.from, 'full');
  t.is(hard?.threshold, 0.95);
});

test('recovery: one step at a time, after a whole calm period and the minimum dwell', (t) => {
  const machine = new ModeMachine(settings(), 0);
  run(machine, [0.97]);
  t.is(machine.mode, 'maintenance');
  // Below enterAt (0.8) but not below exitAt (0.6): MAINTENANCE may end, DEGRADED may not.
  const calmish = Array.from({ length: 40 }, () => 0.7);
  const changes = run(machine, calmish, SECOND);
  t.deepEqual(path(changes), ['degraded']);
  // 10 s calm (first calm sample at 1 s) and 5 s in the mode: at 11 s.
  t.is(changes[0]?.at, 11 * SECOND);
  t.is(machine.mode, 'degraded');

  // One sample at exitAt restarts the calm period.
  const wobble = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.61, ...Array(30).fill(0.5)];
  const down = run(machine, wobble, 60 * SECOND);
  t.deepEqual(path(down), ['full']);
  // Calm again from 69 s (after the 0.61 at 68 s): 10 s later.
  t.is(down[0]?.at, 79 * SECOND);
});

test('the minimum dwell holds a mode even when the signals are calm at once', (t) => {
  const machine = new ModeMachine(settings({ transitionPeriodMs: 0, minDwellMs: 30 * SECOND }), 0);
  run(machine, [0.9, 0.9, 0.9]);
  t.is(machine.mode, 'degraded');
  const changes = run(machine, Array(40).fill(0.1), 3 * SECOND);
  t.deepEqual(path(changes), ['full']);
  t.is(changes[0]?.at, 2 * SECOND + 30 * SECOND, '30 s after it entered DEGRADED at 2 s');
});

test('queue signals count per kind and never force MAINTENANCE; a signal off as trigger moves nothing', (t) => {
  const machine = new ModeMachine(
    settings({
      signals: {
        queueDepth: { enterAt: 10, exitAt: 2, hardAt: 50 },
        cpu: { trigger: false, enterAt: 0.5, exitAt: 0.2 },
      },
    }),
    0,
  );
  const sample = (a: number, b: number, cpu = 0): SignalReading[] => [
    { signal: 'queueDepth', kind: 'a', value: a },
    { signal: 'queueDepth', kind: 'b', value: b },
    { signal: 'cpu', value: cpu, source: 'psi' },
  ];
  // a and b take turns at 10: neither is at enterAt three times in a row.
  let change: AutoChange | undefined;
  for (let i = 0; i < 6; i++)
    change ??= machine.evaluate(sample(i % 2 ? 10 : 0, i % 2 ? 0 : 10, 1), i);
  t.is(change, undefined);
  const hard = machine.evaluate(sample(60, 0), 10);
  t.is(hard?.to, 'degraded', 'a queue hardAt jumps to DEGRADED, not MAINTENANCE');
  t.is(hard?.signal, 'queueDepth[a]');
});
