import type { SchedBot } from './scheduler.ts';

export interface ConcurrencyConfig {
  enabled: boolean;
  increase: number;
  decrease: number;
}

/** A limit that moved across a whole number (what the bot's concurrency shows). */
export interface LimitChange {
  bot: string;
  from: number;
  to: number;
  why: 'success under load' | 'failure' | 'timeout' | 'crash';
}

/**
 * Each bot's concurrency, adapted like TCP's window (AIMD): a success while
 * the bot was at its limit raises the limit by `increase` ÷ limit (one whole
 * task per limit-many successes), a failure or timeout multiplies it by
 * `decrease`; never below 1, never above the configured concurrency (at
 * which point the cap is lifted). A bot that keeps failing ends at 1 task at
 * a time; one that recovers climbs back as long as work keeps it busy.
 */
export class ConcurrencyController {
  #config: ConcurrencyConfig;
  readonly #onChange: (change: LimitChange) => void;

  constructor(config: ConcurrencyConfig, onChange: (change: LimitChange) => void) {
    this.#config = config;
    this.#onChange = onChange;
  }

  configure(config: ConcurrencyConfig): void {
    this.#config = config;
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  /** A task finished well; `inflight` is what the bot still runs besides it. */
  succeeded(bot: SchedBot, inflight: number): void {
    if (!this.#config.enabled || bot.adaptiveLimit === undefined) return;
    const limit = bot.adaptiveLimit;
    // Under load: the limit was what held the bot back, so it may be too low.
    if (inflight + 1 < Math.floor(limit)) return;
    const next = limit + this.#config.increase / limit;
    this.#set(bot, next >= bot.spec.concurrency ? undefined : next, 'success under load');
  }

  failed(bot: SchedBot, why: 'failure' | 'timeout' | 'crash'): void {
    if (!this.#config.enabled) return;
    const limit = bot.adaptiveLimit ?? bot.spec.concurrency;
    this.#set(bot, Math.max(1, limit * this.#config.decrease), why);
  }

  #set(bot: SchedBot, next: number | undefined, why: LimitChange['why']): void {
    const before = Math.floor(bot.adaptiveLimit ?? bot.spec.concurrency);
    bot.adaptiveLimit = next;
    const after = Math.floor(next ?? bot.spec.concurrency);
    if (after !== before) this.#onChange({ bot: bot.name, from: before, to: after, why });
  }

  /** Lifts every cap (the policy changed, or adaptation was turned off). */
  reset(bots: Iterable<SchedBot>): void {
    for (const bot of bots) bot.adaptiveLimit = undefined;
  }
}
