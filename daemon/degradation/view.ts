import {
  type KindPressure,
  type Mode,
  type ModeHolder,
  type ModeView,
  SIGNALS,
  type SignalName,
  type SignalView,
} from '../../protocol/health.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { Config } from '../config/schema.ts';
import { OPTIONAL_WORK } from '../config/schema-health.ts';
import { roundTo } from '../core/values.ts';
import type { OptionalWork } from './degradation.ts';
import { type ModeMachine, signalKey } from './modes.ts';
import type { Sample, SignalReading } from './monitor.ts';

const UNITS: Record<SignalName, SignalView['unit']> = {
  memory: 'ratio',
  cpu: 'ratio',
  eventLoop: 'seconds',
  disk: 'ratio',
  queueDepth: 'tasks',
  queueAge: 'seconds',
};

export interface ViewInput {
  mode: Mode;
  auto: Mode;
  manual: (ModeHolder & { mode: Mode }) | null;
  since: number;
  setBy: ModeHolder;
  sample: Sample | undefined;
  machine: ModeMachine;
  shares: ReadonlyMap<string, number>;
  unhealthy: ReadonlyMap<string, string>;
  bots: BotSupervisor;
  config: Config['degradation'];
  paused: (work: OptionalWork) => boolean;
  shedReason: (kind: string) => string | undefined;
}

/** The worst reading of each signal (queue signals: the kind nearest its enterAt). */
function worst(readings: readonly SignalReading[], signal: SignalName, enterAt: number) {
  let best: SignalReading | undefined;
  for (const r of readings) {
    if (r.signal !== signal) continue;
    if (!best || r.value / enterAt > best.value / enterAt) best = r;
  }
  return best;
}

/** `hive mode --json`: the mode, who or what set it, and the signals and thresholds behind it. */
export function buildModeView(input: ViewInput): ModeView {
  const { config, machine, sample } = input;
  const readings = sample?.readings ?? [];
  const signals = SIGNALS.map((name): SignalView => {
    const s = config.signals[name];
    const r = worst(readings, name, s.enterAt);
    return {
      name,
      ...(r?.kind !== undefined ? { kind: r.kind } : {}),
      value: r ? roundTo(r.value) : null,
      unit: UNITS[name],
      ...(r?.source ? { source: r.source } : {}),
      trigger: s.trigger,
      enterAt: s.enterAt,
      exitAt: s.exitAt,
      ...(s.hardAt !== undefined ? { hardAt: s.hardAt } : {}),
      consecutive: r ? machine.consecutive(signalKey(r)) : 0,
    };
  });
  const kinds: KindPressure[] = [];
  for (const kind of input.bots.kinds()) {
    const load = sample?.kinds.get(kind);
    const fallback = input.bots.pool(kind)?.spec.fallback;
    const why = input.unhealthy.get(kind) ?? input.shedReason(kind);
    kinds.push({
      kind,
      queued: load?.queued ?? 0,
      oldestAgeSeconds: roundTo(load?.oldestAgeSeconds ?? 0, 1),
      shedShare: roundTo(input.shares.get(kind) ?? 0),
      ...(fallback && why ? { routedTo: { kind: fallback, reason: why } } : {}),
    });
  }
  return {
    mode: input.mode,
    auto: input.auto,
    manual: input.manual,
    since: input.since,
    setBy: input.setBy,
    signals,
    kinds,
    paused: OPTIONAL_WORK.filter((w) => input.paused(w)),
    nextStepDown: input.manual ? null : machine.nextStepDown(),
    settings: {
      intervalMs: config.intervalMs,
      consecutiveSamples: config.consecutiveSamples,
      transitionPeriodMs: config.transitionPeriodMs,
      minDwellMs: config.minDwellMs,
    },
  };
}
