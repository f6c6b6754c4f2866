/** How the averages move (scheduler.* in the config). */
export interface AverageConfig {
  latencyHalfLifeMs: number;
  peakGain: number;
  successHalfLifeMs: number;
}

/**
 * A mean whose samples lose weight with time (half of it every `halfLife`
 * ms), not with count: a bot's average reflects the last few seconds
 * whether it ran ten tasks in them or ten thousand, and one sample after a
 * long quiet spell counts for nearly everything.
 */
export interface DecayingMean {
  /** Sum of the decayed weights, and of the decayed weighted values, as of `at`. */
  w: number;
  wx: number;
  at: number;
}

function decay(mean: DecayingMean, now: number, halfLifeMs: number): void {
  const factor = 2 ** (-Math.max(0, now - mean.at) / halfLifeMs);
  mean.w *= factor;
  mean.wx *= factor;
  mean.at = Math.max(mean.at, now);
}

function value(mean: DecayingMean): number {
  return mean.w > 0 ? mean.wx / mean.w : Number.NaN;
}

/** One bot's record for one task type. */
export class BotTypeStats {
  readonly latency: DecayingMean = { w: 0, wx: 0, at: 0 };
  readonly success: DecayingMean = { w: 0, wx: 0, at: 0 };
  /** Latency samples so far (done and timed-out tasks). */
  samples = 0;
  done = 0;
  failed = 0;
  timeouts = 0;
  /** Cached means (recomputed on each sample). */
  latencyMs = Number.NaN;
  successRate = 1;

  /**
   * A finished task's latency. Peak sensitivity: a sample above the mean
   * moves it at least `peakGain` of the way up at once, so a bot that
   * slows down is seen slow within a sample or two; coming back down takes
   * the half-life.
   */
  observeLatency(ms: number, now: number, config: AverageConfig): void {
    const before = this.latencyMs;
    decay(this.latency, now, config.latencyHalfLifeMs);
    this.latency.w += 1;
    this.latency.wx += ms;
    let mean = value(this.latency);
    if (this.samples > 0 && ms > before)
      mean = Math.max(mean, before + config.peakGain * (ms - before));
    this.latency.wx = mean * this.latency.w;
    this.latencyMs = mean;
    this.samples += 1;
  }

  /** An outcome for the success rate: done, or failed / timed out / crashed. */
  observeOutcome(ok: boolean, now: number, config: AverageConfig): void {
    decay(this.success, now, config.successHalfLifeMs);
    this.success.w += 1;
    this.success.wx += ok ? 1 : 0;
    this.successRate = value(this.success);
  }

  toJSON(): SavedStats {
    return {
      latency: this.latency,
      success: this.success,
      samples: this.samples,
      done: this.done,
      failed: this.failed,
      timeouts: this.timeouts,
    };
  }

  static from(saved: SavedStats): BotTypeStats {
    const stats = new BotTypeStats();
    Object.assign(stats.latency, saved.latency);
    Object.assign(stats.success, saved.success);
    stats.samples = saved.samples;
    stats.done = saved.done;
    stats.failed = saved.failed;
    stats.timeouts = saved.timeouts;
    stats.latencyMs = value(stats.latency);
    stats.successRate = stats.success.w > 0 ? value(stats.success) : 1;
    return stats;
  }
}

export interface SavedStats {
  latency: DecayingMean;
  success: DecayingMean;
  samples: number;
  done: number;
  failed: number;
  timeouts: number;
}

/** What `db/scheduler.json` holds. */
export interface SavedScheduler {
  format: 1;
  savedAt: number;
  types: Record<string, Record<string, SavedStats>>;
  /** Adaptive concurrency limits by bot name. */
  limits: Record<string, number>;
}

export const EMPTY_SCHEDULER: SavedScheduler = { format: 1, savedAt: 0, types: {}, limits: {} };

/** Median latencies are recomputed at most this often per type (they move slowly). */
const MEDIAN_REFRESH_MS = 250;

/**
 * Statistics per task type and bot, and each type's median latency: what
 * a bot with no samples yet is assumed to have (it starts at the pool
 * median: neither favoured nor shunned).
 */
export class StatsTable {
  readonly #types = new Map<string, Map<string, BotTypeStats>>();
  readonly #medians = new Map<string, { value: number; at: number }>();

  get(type: string, bot: string): BotTypeStats | undefined {
    return this.#types.get(type)?.get(bot);
  }

  /** The entry of a bot for a type, created on first use. */
  entry(type: string, bot: string): BotTypeStats {
    let byBot = this.#types.get(type);
    if (!byBot) {
      byBot = new Map();
      this.#types.set(type, byBot);
    }
    let stats = byBot.get(bot);
    if (!stats) {
      stats = new BotTypeStats();
      byBot.set(bot, stats);
    }
    return stats;
  }

  types(): IterableIterator<[string, Map<string, BotTypeStats>]> {
    return this.#types.entries();
  }

  /** Median latency of the bots with samples for a type (NaN when none has one). */
  median(type: string, now: number): number {
    const cached = this.#medians.get(type);
    if (cached && now - cached.at < MEDIAN_REFRESH_MS) return cached.value;
    const values: number[] = [];
    for (const stats of this.#types.get(type)?.values() ?? [])
      if (stats.samples > 0) values.push(stats.latencyMs);
    values.sort((a, b) => a - b);
    const mid = values.length >> 1;
    const median =
      values.length === 0
        ? Number.NaN
        : values.length % 2
          ? (values[mid] as number)
          : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
    this.#medians.set(type, { value: median, at: now });
    return median;
  }

  /** Keeps only the entries of these bots (the others left their pools). */
  retain(bots: ReadonlySet<string>): void {
    for (const byBot of this.#types.values())
      for (const name of byBot.keys()) if (!bots.has(name)) byBot.delete(name);
  }

  toJSON(): SavedScheduler['types'] {
    const out: SavedScheduler['types'] = {};
    for (const [type, byBot] of this.#types) {
      out[type] = {};
      for (const [bot, stats] of byBot) out[type][bot] = stats.toJSON();
    }
    return out;
  }

  load(saved: SavedScheduler['types']): void {
    this.#types.clear();
    this.#medians.clear();
    for (const [type, byBot] of Object.entries(saved)) {
      const map = new Map<string, BotTypeStats>();
      for (const [bot, stats] of Object.entries(byBot)) map.set(bot, BotTypeStats.from(stats));
      this.#types.set(type, map);
    }
  }
}
