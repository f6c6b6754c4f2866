import type { SchedulerStatRow, SchedulerStats } from '../../protocol/messaging.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { compareText, roundTo } from '../core/values.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { JsonDocument } from '../store/json-document.ts';
import type { AttemptEnd, DispatchObserver } from '../tasks/dispatcher.ts';
import { AdaptiveScheduler } from './adaptive.ts';
import { ConcurrencyController } from './concurrency.ts';
import {
  ALL_POOLS,
  LeastLoadedScheduler,
  type PoolSelector,
  RoundRobinScheduler,
  type SchedBot,
  type SchedTask,
  type Scheduler,
} from './scheduler.ts';
import { efficiencyScore, fastest } from './score.ts';
import { type SavedScheduler, StatsTable } from './stats.ts';

export type SchedulerConfig = Config['scheduler'];
export type Policy = SchedulerConfig['policy'];

/** A bot whose in-flight task ids can be listed (the supervisor's bots). */
export type TrackedBot = SchedBot & { readonly inflight: ReadonlySet<string> };

/** The bots the scheduler reports on and adapts (the supervisor). */
export interface SchedulableBots {
  bots(): readonly TrackedBot[];
}

/**
 * The scheduler part: picks a bot per task (pool first, then the bot by
 * the configured policy), learns from every attempt that ends (latency,
 * success, timeouts per bot and task type), adapts each bot's concurrency
 * under the adaptive policy, samples decisions to adaptive-scheduling.jsonl
 * and keeps its statistics in db/scheduler.json across restarts.
 */
export class Scheduling implements Scheduler, DispatchObserver, ConfigApplier {
  readonly configPart = 'scheduler';
  readonly configKeys = ['scheduler'];
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #doc: JsonDocument<SavedScheduler>;
  readonly #bots: SchedulableBots;
  readonly #taskType: (id: string) => string | undefined;
  readonly stats = new StatsTable();
  readonly adaptive: AdaptiveScheduler;
  readonly #concurrency: ConcurrencyController;
  readonly #policies: Record<Policy, Scheduler>;
  #config: SchedulerConfig;
  #policy: Scheduler;
  #pools: PoolSelector = ALL_POOLS;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: {
    clock: Clock;
    log: Logger;
    doc: JsonDocument<SavedScheduler>;
    bots: SchedulableBots;
    /** The type of a task by id (for in-flight counts per type). */
    taskType: (id: string) => string | undefined;
    config: SchedulerConfig;
    random?: () => number;
  }) {
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#doc = deps.doc;
    this.#bots = deps.bots;
    this.#taskType = deps.taskType;
    this.#config = deps.config;
    this.adaptive = new AdaptiveScheduler({
      stats: this.stats,
      random: deps.random ?? Math.random,
      now: () => this.#clock.now(),
      config: deps.config,
      onDecision: (decision) => this.#log.event('decision', { ...decision }),
    });
    this.#concurrency = new ConcurrencyController(deps.config.adaptiveConcurrency, (change) =>
      this.#log.event('limit', { ...change }),
    );
    this.#policies = {
      adaptive: this.adaptive,
      'round-robin': new RoundRobinScheduler(),
      'least-loaded': new LeastLoadedScheduler(),
    };
    this.#policy = this.#policies[deps.config.policy];
    this.#load();
  }

  get policy(): Policy {
    return this.#config.policy;
  }

  /** The pool step (issue 8's deployment weights plug in here). */
  setPoolSelector(selector: PoolSelector): void {
    this.#pools = selector;
  }

  pick<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): B | undefined {
    const pool = this.#pools.select(task, candidates);
    return pool.length === 0 ? undefined : this.#policy.pick(task, pool);
  }

  attemptEnded(end: AttemptEnd): void {
    const stats = this.stats.entry(end.task.type, end.bot);
    const adapt = this.#config.policy === 'adaptive' && end.botRef !== undefined;
    const elapsed = Math.max(0, end.at - end.startedAt);
    const config = this.#config;
    switch (end.outcome) {
      case 'done':
        stats.done += 1;
        stats.observeLatency(elapsed, end.at, config);
        stats.observeOutcome(true, end.at, config);
        if (adapt && end.botRef) this.#concurrency.succeeded(end.botRef, end.botRef.inflight.size);
        break;
      case 'timeout':
        stats.timeouts += 1;
        stats.observeLatency(elapsed, end.at, config);
        stats.observeOutcome(false, end.at, config);
        if (adapt && end.botRef) this.#concurrency.failed(end.botRef, 'timeout');
        break;
      case 'error':
      case 'crash':
        stats.failed += 1;
        stats.observeOutcome(false, end.at, config);
        // A permanent error is the task's fault, not the bot's: its concurrency stays.
        if (adapt && end.botRef && !end.permanent)
          this.#concurrency.failed(end.botRef, end.outcome === 'crash' ? 'crash' : 'failure');
        break;
    }
    this.#dirty = true;
  }

  /** `hive sched stats`: a row per bot and task type, with its score. */
  report(type?: string): SchedulerStats {
    const bots = new Map(this.#bots.bots().map((b) => [b.name, b]));
    const inflight = this.#inflightByType(bots.values());
    const rows: SchedulerStatRow[] = [];
    for (const [taskType, byBot] of this.stats.types()) {
      if (type !== undefined && taskType !== type) continue;
      const best = fastest(byBot.values());
      for (const [name, stats] of byBot) {
        const bot = bots.get(name);
        if (!bot && bots.size > 0) continue;
        rows.push({
          type: taskType,
          bot: name,
          kind: bot?.kind ?? name.replace(/-\d+$/, ''),
          score: efficiencyScore(stats, best),
          latencyMs: stats.samples > 0 ? roundTo(stats.latencyMs) : null,
          successRate: roundTo(stats.successRate),
          samples: stats.samples,
          done: stats.done,
          failed: stats.failed,
          timeouts: stats.timeouts,
          inflight: inflight.get(`${taskType}\n${name}`) ?? 0,
          concurrency: bot?.concurrency ?? 0,
          configuredConcurrency: bot?.spec.concurrency ?? 0,
          adaptiveLimit: bot?.adaptiveLimit === undefined ? null : roundTo(bot.adaptiveLimit),
        });
      }
    }
    rows.sort((a, b) => compareText(a.type, b.type) || compareText(a.bot, b.bot));
    return {
      policy: this.#config.policy,
      decisions: this.adaptive.decisions,
      explored: this.adaptive.explored,
      rows,
    };
  }

  #inflightByType(bots: Iterable<TrackedBot>): Map<string, number> {
    const counts = new Map<string, number>();
    for (const bot of bots) {
      for (const id of bot.inflight) {
        const key = `${this.#taskType(id) ?? '?'}\n${bot.name}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return counts;
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      this.#apply(next.config.scheduler);
      return undefined;
    };
  }

  #apply(config: SchedulerConfig): void {
    const adaptiveBefore = this.#adapting();
    this.#config = config;
    this.#policy = this.#policies[config.policy];
    this.adaptive.configure(config);
    this.#concurrency.configure(config.adaptiveConcurrency);
    if (adaptiveBefore && !this.#adapting()) this.#concurrency.reset(this.#bots.bots());
    this.#arm();
  }

  #adapting(): boolean {
    return this.#config.policy === 'adaptive' && this.#config.adaptiveConcurrency.enabled;
  }

  /** Saved limits go back on their bots when those are there (at start: after configure). */
  restoreLimits(): void {
    if (!this.#adapting()) return;
    const limits = this.#doc.data.limits;
    for (const bot of this.#bots.bots()) {
      const limit = limits[bot.name];
      if (limit !== undefined && bot.adaptiveLimit === undefined && limit < bot.spec.concurrency)
        bot.adaptiveLimit = limit;
    }
  }

  #load(): void {
    const data = this.#doc.data;
    if (data?.format === 1 && typeof data.types === 'object') this.stats.load(data.types);
  }

  start(): void {
    this.#arm();
  }

  #arm(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.save(), this.#config.persistIntervalMs);
    this.#timer.unref();
  }

  /** Writes the statistics (and adaptive limits) when something changed since the last save. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    const bots = this.#bots.bots();
    // Bots scaled away or whose kind was removed: their numbers describe nothing now.
    if (bots.length > 0) this.stats.retain(new Set(bots.map((b) => b.name)));
    const limits: Record<string, number> = {};
    for (const bot of bots)
      if (bot.adaptiveLimit !== undefined) limits[bot.name] = bot.adaptiveLimit;
    this.#doc.data = {
      format: 1,
      savedAt: this.#clock.now(),
      types: this.stats.toJSON(),
      limits,
    };
    await this.#doc.save().catch((error: unknown) => {
      this.#log.warn(`scheduler statistics not saved: ${String(error)}`);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.save();
  }
}
