import type { Mode, SignalName } from '../../protocol/health.ts';
import type { Config } from '../config/schema.ts';
import type { SignalReading } from './monitor.ts';

type DegradationConfig = Config['degradation'];
type SignalSettings = DegradationConfig['signals'][SignalName];

/** Where a signal counts as full pressure: its hardAt, else as far above enterAt as exitAt is below. */
function ceiling(s: SignalSettings): number {
  return s.hardAt ?? s.enterAt + (s.enterAt - s.exitAt);
}

/** 0 at exitAt, growing to 1 at the signal's ceiling. */
export function ramp(value: number, s: SignalSettings): number {
  const span = ceiling(s) - s.exitAt;
  return span > 0 ? Math.min(1, Math.max(0, (value - s.exitAt) / span)) : 1;
}

/**
 * The share of low-priority submissions to shed per bot kind: 0 outside
 * DEGRADED; in it, the worst of the host signals and the kind's own queue
 * signals on a ramp (so a kind whose own queue is fine sheds nothing when
 * another kind's queue caused the mode), times shedMaxShare. A DEGRADED set
 * by hand sheds at least manualShedShare.
 */
export function shedShares(
  readings: readonly SignalReading[],
  kinds: Iterable<string>,
  mode: Mode,
  manual: boolean,
  config: DegradationConfig,
): Map<string, number> {
  const shares = new Map<string, number>();
  if (mode !== 'degraded') return shares;
  let host = 0;
  const perKind = new Map<string, number>();
  for (const reading of readings) {
    const s = config.signals[reading.signal];
    if (!s.trigger) continue;
    const r = ramp(reading.value, s);
    if (reading.kind === undefined) host = Math.max(host, r);
    else perKind.set(reading.kind, Math.max(perKind.get(reading.kind) ?? 0, r));
  }
  const floor = manual ? config.degraded.manualShedShare : 0;
  for (const kind of kinds) {
    const pressure = Math.max(host, perKind.get(kind) ?? 0) * config.degraded.shedMaxShare;
    shares.set(kind, Math.max(floor, pressure));
  }
  return shares;
}

/**
 * Turns a share into decisions without chance: each submission adds the
 * share to the kind's account and is shed when it reaches 1. A share of
 * 0.25 sheds exactly every fourth, 1 sheds all, and tests are repeatable.
 */
export class Shedder {
  readonly #account = new Map<string, number>();

  shed(kind: string, share: number): boolean {
    if (share <= 0) return false;
    const total = (this.#account.get(kind) ?? 0) + share;
    const shed = total >= 1 - 1e-9;
    this.#account.set(kind, shed ? total - 1 : total);
    return shed;
  }

  reset(): void {
    this.#account.clear();
  }
}
