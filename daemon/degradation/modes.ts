import { type Mode, modeRank, type SignalName } from '../../protocol/health.ts';
import type { Config } from '../config/schema.ts';
import { roundTo } from '../core/values.ts';
import type { SignalReading } from './monitor.ts';

export type ModeSettings = Pick<
  Config['degradation'],
  'consecutiveSamples' | 'transitionPeriodMs' | 'minDwellMs' | 'signals'
>;
type SignalSettings = ModeSettings['signals'][SignalName];

/** A change of the automatic mode and what caused it. */
export interface AutoChange {
  from: Mode;
  to: Mode;
  signal: string | null;
  value: number | null;
  threshold: number | null;
  reason: string;
  at: number;
}

interface Cause {
  mode: Mode;
  reading: SignalReading;
  threshold: number;
  reason: string;
}

/** `queueDepth[echo]` for a per-kind signal, `memory` for a host one. */
export function signalKey(reading: Pick<SignalReading, 'signal' | 'kind'>): string {
  return reading.kind === undefined ? reading.signal : `${reading.signal}[${reading.kind}]`;
}

/**
 * The automatic mode, from signal readings, with hysteresis:
 * - escalate to DEGRADED only after `consecutiveSamples` readings in a row
 *   at or past a signal's enterAt; a hardAt jumps at once (to its hardMode);
 * - step down one mode at a time, after `minDwellMs` in the mode and once
 *   the way down has been calm for a whole `transitionPeriodMs`: every
 *   signal below its exitAt (DEGRADED → FULL), every signal that can force
 *   MAINTENANCE below its enterAt (MAINTENANCE → DEGRADED; queue signals
 *   cannot go down while nothing is dispatched, so they do not hold it).
 * A value hovering around a threshold cannot flap: it needs N samples in a
 * row to go up and a whole period below a lower line to come down.
 * Pure: the caller brings the time.
 */
export class ModeMachine {
  #settings: ModeSettings;
  #mode: Mode = 'full';
  #enteredAt: number;
  #consecutive = new Map<string, number>();
  /** Since when the way down from DEGRADED (`full`) and from MAINTENANCE (`degraded`) is calm. */
  #calmSince: { full: number | undefined; degraded: number | undefined } = {
    full: undefined,
    degraded: undefined,
  };

  constructor(settings: ModeSettings, now: number) {
    this.#settings = settings;
    this.#enteredAt = now;
  }

  get mode(): Mode {
    return this.#mode;
  }

  get enteredAt(): number {
    return this.#enteredAt;
  }

  setSettings(settings: ModeSettings): void {
    this.#settings = settings;
  }

  /** Samples in a row at or past enterAt, by signal key. */
  consecutive(key: string): number {
    return this.#consecutive.get(key) ?? 0;
  }

  /** Back to FULL at once (automatic modes turned off). */
  reset(now: number, reason: string): AutoChange | undefined {
    this.#consecutive.clear();
    this.#calmSince = { full: undefined, degraded: undefined };
    if (this.#mode === 'full') return undefined;
    return this.#change('full', now, { signal: null, value: null, threshold: null, reason });
  }

  /** Takes one sample's readings; returns the change they cause, if any. */
  evaluate(readings: readonly SignalReading[], now: number): AutoChange | undefined {
    const seen = new Map<string, number>();
    let belowExit = true;
    let belowEnterHard = true;
    let cause: Cause | undefined;
    const consider = (next: Cause) => {
      if (!cause || modeRank(next.mode) > modeRank(cause.mode)) cause = next;
    };
    for (const reading of readings) {
      const s: SignalSettings = this.#settings.signals[reading.signal];
      if (!s.trigger) continue;
      const key = signalKey(reading);
      const n = reading.value >= s.enterAt ? this.consecutive(key) + 1 : 0;
      seen.set(key, n);
      if (reading.value >= s.exitAt) belowExit = false;
      if (s.hardMode === 'maintenance' && reading.value >= s.enterAt) belowEnterHard = false;
      const value = roundTo(reading.value);
      if (s.hardAt !== undefined && reading.value >= s.hardAt) {
        consider({
          mode: s.hardMode,
          reading,
          threshold: s.hardAt,
          reason: `${key} at ${value} ≥ hardAt ${s.hardAt}`,
        });
      } else if (n >= this.#settings.consecutiveSamples) {
        consider({
          mode: 'degraded',
          reading,
          threshold: s.enterAt,
          reason: `${key} at ${value} ≥ enterAt ${s.enterAt} for ${n} samples in a row`,
        });
      }
    }
    this.#consecutive = seen;
    if (cause && modeRank(cause.mode) > modeRank(this.#mode)) {
      return this.#change(cause.mode, now, {
        signal: signalKey(cause.reading),
        value: roundTo(cause.reading.value),
        threshold: cause.threshold,
        reason: cause.reason,
      });
    }
    this.#calmSince.full = belowExit ? (this.#calmSince.full ?? now) : undefined;
    this.#calmSince.degraded = belowEnterHard ? (this.#calmSince.degraded ?? now) : undefined;
    return this.#stepDown(now);
  }

  #stepDown(now: number): AutoChange | undefined {
    const next = this.nextStepDown();
    if (!next || now < next.at) return undefined;
    const seconds = Math.round(this.#settings.transitionPeriodMs / 1000);
    const reason =
      next.to === 'full'
        ? `every signal below its exitAt for ${seconds} s`
        : `the signals that force MAINTENANCE below their enterAt for ${seconds} s`;
    return this.#change(next.to, now, { signal: null, value: null, threshold: null, reason });
  }

  /** Where and when the mode steps down next if the signals stay calm; null: not calm now. */
  nextStepDown(): { to: Mode; at: number } | null {
    const to: Mode | undefined =
      this.#mode === 'maintenance' ? 'degraded' : this.#mode === 'degraded' ? 'full' : undefined;
    const calm = to === 'degraded' ? this.#calmSince.degraded : this.#calmSince.full;
    if (!to || calm === undefined) return null;
    const at = Math.max(
      calm + this.#settings.transitionPeriodMs,
      this.#enteredAt + this.#settings.minDwellMs,
    );
    return { to, at };
  }

  #change(
    to: Mode,
    now: number,
    cause: Pick<AutoChange, 'signal' | 'value' | 'threshold' | 'reason'>,
  ): AutoChange {
    const from = this.#mode;
    this.#mode = to;
    this.#enteredAt = now;
    // Calm counts afresh in the new mode: a step down must earn its own period.
    this.#calmSince = { full: undefined, degraded: undefined };
    return { from, to, at: now, ...cause };
  }
}
