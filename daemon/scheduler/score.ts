import type { BotTypeStats } from './stats.ts';

/**
 * Efficiency score of a bot for a task type, 0–100:
 *
 *   score = 100 × successRate × min(1, fastest ÷ latency)
 *
 * where latency is the bot's latency average for the type and fastest the
 * lowest such average among the bots of the type (timeouts count as
 * failures in the success rate). The fastest bot that never fails scores
 * 100; one twice as slow scores 50; one as fast that fails a quarter of its
 * tasks scores 75. Null before the bot's first latency sample.
 */
export function efficiencyScore(stats: BotTypeStats, fastestMs: number): number | null {
  if (stats.samples === 0) return null;
  const speed = stats.latencyMs > 0 ? Math.min(1, fastestMs / stats.latencyMs) : 1;
  return Math.round(100 * stats.successRate * speed);
}

/** The lowest latency average among bots with samples (NaN when none has one). */
export function fastest(all: Iterable<BotTypeStats>): number {
  let best = Number.NaN;
  for (const stats of all)
    if (stats.samples > 0 && (Number.isNaN(best) || stats.latencyMs < best)) best = stats.latencyMs;
  return best;
}
