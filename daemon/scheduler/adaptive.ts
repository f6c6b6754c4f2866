import { roundTo } from '../core/values.ts';
import { freshCandidates, type SchedBot, type SchedTask, type Scheduler } from './scheduler.ts';
import type { StatsTable } from './stats.ts';

export interface AdaptiveConfig {
  successFloor: number;
  explorationShare: number;
  decisionLogShare: number;
}

/** One candidate as the decision saw it. */
export interface Scored {
  bot: string;
  cost: number;
  latencyMs: number;
  successRate: number;
  inflight: number;
  /** The latency is the pool median (no sample of this bot for this type yet). */
  assumed: boolean;
}

/** A routing decision, for adaptive-scheduling.jsonl (sampled). */
export interface Decision {
  task: string;
  type: string;
  chosen: string;
  how: 'p2c' | 'explore' | 'only';
  candidates: number;
  scores: Scored[];
}

/** Latency assumed when no bot of a type has a sample yet: every bot looks alike. */
const NO_DATA_MS = 1;
/** Below this a latency carries no information (the clock's resolution). */
const MIN_LATENCY_MS = 0.05;

/**
 * Power of two choices: two random available bots, the cheaper wins, with
 * cost = latency × (inflight + 1) ÷ max(successRate, floor). Looking at two
 * instead of all keeps a decision O(1) (100 bots cost what 2 do) and avoids
 * the herd a global minimum attracts; a small share of decisions pick a
 * random bot instead, so a bot that lost its share is measured again and
 * can win it back. A bot with no sample for the type starts at the pool's
 * median latency.
 */
export class AdaptiveScheduler implements Scheduler {
  readonly #stats: StatsTable;
  readonly #random: () => number;
  readonly #now: () => number;
  #config: AdaptiveConfig;
  readonly #onDecision: (decision: Decision) => void;
  decisions = 0;
  explored = 0;

  constructor(deps: {
    stats: StatsTable;
    random: () => number;
    now: () => number;
    config: AdaptiveConfig;
    onDecision: (decision: Decision) => void;
  }) {
    this.#stats = deps.stats;
    this.#random = deps.random;
    this.#now = deps.now;
    this.#config = deps.config;
    this.#onDecision = deps.onDecision;
  }

  configure(config: AdaptiveConfig): void {
    this.#config = config;
  }

  pick<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): B | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    this.decisions += 1;
    if (n === 1) return this.#only(task, candidates[0]);
    const pool = freshCandidates(task, candidates);
    const size = pool.length;
    if (size === 1) return this.#only(task, pool[0]);
    const random = this.#random;
    if (random() < this.#config.explorationShare) {
      this.explored += 1;
      const bot = pool[Math.floor(random() * size)] as B;
      if (random() < this.#config.decisionLogShare) this.#log(task, bot, 'explore', size, [bot]);
      return bot;
    }
    const i = Math.floor(random() * size);
    let j = Math.floor(random() * (size - 1));
    if (j >= i) j += 1;
    const a = pool[i] as B;
    const b = pool[j] as B;
    const costA = this.cost(task.type, a);
    const costB = this.cost(task.type, b);
    const chosen = costA < costB || (costA === costB && a.inflight.size <= b.inflight.size) ? a : b;
    if (random() < this.#config.decisionLogShare) this.#log(task, chosen, 'p2c', size, [a, b]);
    return chosen;
  }

  /** latency × (inflight + 1) ÷ max(successRate, floor). */
  cost(type: string, bot: SchedBot): number {
    const stats = this.#stats.get(type, bot.name);
    const latency = stats && stats.samples > 0 ? stats.latencyMs : this.#assumedLatency(type);
    const success = stats ? stats.successRate : 1;
    return (
      (Math.max(latency, MIN_LATENCY_MS) * (bot.inflight.size + 1)) /
      Math.max(success, this.#config.successFloor)
    );
  }

  #assumedLatency(type: string): number {
    const median = this.#stats.median(type, this.#now());
    return Number.isNaN(median) ? NO_DATA_MS : median;
  }

  #only<B extends SchedBot>(task: SchedTask, bot: B | undefined): B | undefined {
    if (bot && this.#random() < this.#config.decisionLogShare)
      this.#log(task, bot, 'only', 1, [bot]);
    return bot;
  }

  #log(
    task: SchedTask,
    chosen: SchedBot,
    how: Decision['how'],
    candidates: number,
    seen: SchedBot[],
  ): void {
    const scores = seen.map((bot): Scored => {
      const stats = this.#stats.get(task.type, bot.name);
      const assumed = !stats || stats.samples === 0;
      return {
        bot: bot.name,
        cost: roundTo(this.cost(task.type, bot)),
        latencyMs: roundTo(assumed ? this.#assumedLatency(task.type) : (stats?.latencyMs ?? 0)),
        successRate: roundTo(stats?.successRate ?? 1),
        inflight: bot.inflight.size,
        assumed,
      };
    });
    this.#onDecision({
      task: task.id,
      type: task.type,
      chosen: chosen.name,
      how,
      candidates,
      scores,
    });
  }
}
