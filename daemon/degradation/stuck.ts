import type { Config } from '../config/schema.ts';
import type { BotUsage } from './monitor.ts';

type StuckSettings = Config['degradation']['stuck'];

const HOUR_MS = 3_600_000;

export type StuckDecision =
  | { restart: BotUsage; candidates: BotUsage[]; degradedForMs: number }
  | { capped: true; candidates: BotUsage[]; degradedForMs: number };

/**
 * "Not stuck": pressure that lasts `afterMs` without a break is taken as a
 * sign that something in the fleet holds on to resources (a leak), and the
 * bot with the largest RSS is restarted. One at a time (the next needs
 * another whole `afterMs`), at most `maxRestartsPerHour`.
 */
export class StuckWatch {
  #settings: StuckSettings;
  #since: number | undefined;
  #restarts: number[] = [];
  #cappedSince: number | undefined;

  constructor(settings: StuckSettings) {
    this.#settings = settings;
  }

  setSettings(settings: StuckSettings): void {
    this.#settings = settings;
  }

  /** Called once a sample: `pressured` is the automatic mode at DEGRADED or worse. */
  check(pressured: boolean, bots: Iterable<BotUsage>, now: number): StuckDecision | undefined {
    if (!pressured || this.#settings.afterMs === 0) {
      this.#since = undefined;
      this.#cappedSince = undefined;
      return undefined;
    }
    this.#since ??= now;
    const degradedForMs = now - this.#since;
    if (degradedForMs < this.#settings.afterMs) return undefined;
    const candidates = [...bots]
      .sort((a, b) => b.rssBytes - a.rssBytes)
      .slice(0, this.#settings.candidates);
    const victim = candidates[0];
    if (!victim) return undefined;
    this.#restarts = this.#restarts.filter((t) => now - t < HOUR_MS);
    if (this.#restarts.length >= this.#settings.maxRestartsPerHour) {
      // Said once per stretch, not at every sample.
      if (this.#cappedSince !== undefined) return undefined;
      this.#cappedSince = now;
      return { capped: true, candidates, degradedForMs };
    }
    this.#restarts.push(now);
    this.#since = now;
    return { restart: victim, candidates, degradedForMs };
  }
}
