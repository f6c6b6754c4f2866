import { HiveError } from '../../protocol/errors.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { ConfigSnapshot } from '../config/sources.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { JsonDocument } from '../store/json-document.ts';
import { Bot, type BotEvents, type BotExit, readyOrExit, type Spawner } from './bot.ts';
import { readProcStat, readRssBytes, signalGroup } from './proc.ts';
import { type BotSpec, type KindSpecs, launchChanges, resolveSpecs } from './spec.ts';

/** What the registry document remembers of each bot, for status and orphan cleanup. */
export interface RegistryBot {
  kind: string;
  pid: number | null;
  startTicks: number | null;
  state: string;
  restarts: number;
  tasksDone: number;
  startedAt: number;
}

export interface RegistryDoc {
  bots: Record<string, RegistryBot>;
  /** Instance counts set by `hive bots scale`, with the config value they override. */
  scale: Record<string, { instances: number; configInstances: number }>;
}

export const EMPTY_REGISTRY: RegistryDoc = { bots: {}, scale: {} };

export interface SupervisorEvents {
  /** A bot process was launched. */
  start: Bot;
  /** A bot became ready: it can take tasks. */
  ready: Bot;
  /** A bot process ended; its in-flight tasks need a new home. */
  exit: BotExit;
  message: BotEvents['message'];
  /** A bot is being restarted: after a crash (with its backoff delay) or on request. */
  restart: { bot: Bot; delayMs: number; reason: string; requested: boolean };
  /** A bot was given up (crash loop); it stays down until restarted by hand. */
  failed: { bot: Bot; reason: string };
}

interface KindPool {
  spec: BotSpec;
  /** Instances from config (before any scale override). */
  configInstances: number;
  instances: number;
  bots: Bot[];
}

/**
 * Owns every bot: pools per kind, restarts with exponential backoff and a
 * crash-loop limit, memory and heartbeat enforcement, scaling, and the live
 * application of bot config (kinds added and removed, limits changed in
 * place, bots whose launch changed replaced one at a time).
 */
export class BotSupervisor extends TypedEmitter<SupervisorEvents> implements ConfigApplier {
  readonly configPart = 'bots';
  /** queue.defaultTimeoutMs is the task timeout of kinds that set none. */
  readonly configKeys = ['bots', 'queue.defaultTimeoutMs'];
  readonly #pools = new Map<string, KindPool>();
  /** A deployment's new (green) pool per kind, beside the kind's own (blue) pool (issue 8). */
  readonly #greens = new Map<string, KindPool>();
  /** What a promoted deployment makes of a kind's configured spec (identity without one). */
  #specOverride: (kind: string, spec: BotSpec) => BotSpec = (_kind, spec) => spec;
  /** Kinds with a rolling replacement under way. */
  readonly #rolling = new Set<string>();
  readonly #compileCacheDir: string | undefined;
  readonly #byName = new Map<string, Bot>();
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #spawner: Spawner;
  readonly #registry: JsonDocument<RegistryDoc>;
  readonly #crashTimes = new Map<string, number[]>();
  readonly #consecutiveCrashes = new Map<string, number>();
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  #closing = false;

  constructor(deps: {
    clock: Clock;
    log: Logger;
    spawner: Spawner;
    registry: JsonDocument<RegistryDoc>;
    /** NODE_COMPILE_CACHE for Node bots. */
    compileCacheDir?: string;
  }) {
    super();
    this.#compileCacheDir = deps.compileCacheDir;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#spawner = deps.spawner;
    this.#registry = deps.registry;
  }

  /**
   * Kills bots a crashed daemon left behind (the kernel's parent-death
   * signal normally got them). A pid is only trusted with its start time,
   * so a recycled pid of an unrelated process is never touched.
   */
  reapOrphans(): string[] {
    const reaped: string[] = [];
    for (const [name, entry] of Object.entries(this.#registry.data.bots)) {
      if (!entry.pid || entry.startTicks === null) continue;
      const stat = readProcStat(entry.pid);
      if (stat && stat.startTicks === entry.startTicks) {
        signalGroup(stat.processGroup, 'SIGKILL');
        reaped.push(`${name} (pid ${entry.pid})`);
      }
    }
    return reaped;
  }

  /** Resolves the bot kinds of a config (relative commands against its folder). */
  specsOf(snapshot: Pick<ConfigSnapshot, 'config' | 'baseDir'>): KindSpecs {
    return resolveSpecs(snapshot.config, {
      baseDir: snapshot.baseDir,
      ...(this.#compileCacheDir ? { compileCacheDir: this.#compileCacheDir } : {}),
    });
  }

  /** A command that cannot run rejects the whole reload here, before anything changes. */
  prepareConfig(next: ConfigSnapshot) {
    const specs = this.specsOf(next);
    return () => this.configure(specs);
  }

  /**
   * Makes the pools match the specs: at start, and on every config load.
   * Idempotent: a load without changes retries a rolling replacement that
   * failed before. Returns notes for the config report.
   */
  configure(specs: KindSpecs): string[] {
    const notes: string[] = [];
    for (const kind of [...this.#pools.keys()])
      if (!specs.has(kind)) notes.push(this.#removeKind(kind));
    for (const [kind, configured] of specs) {
      const { instances } = configured;
      const spec = this.#specOverride(kind, configured.spec);
      const pool = this.#pools.get(kind);
      if (pool) notes.push(...this.#updateKind(kind, pool, spec, instances));
      else notes.push(this.#addKind(kind, spec, instances));
    }
    this.#persist();
    return notes;
  }

  #addKind(kind: string, spec: BotSpec, instances: number): string {
    // A `hive bots scale` override holds while the config value it overrode stays.
    const override = this.#registry.data.scale[kind];
    let effective = instances;
    if (override?.configInstances === instances) effective = override.instances;
    else if (override) delete this.#registry.data.scale[kind];
    const pool: KindPool = { spec, configInstances: instances, instances: effective, bots: [] };
    this.#pools.set(kind, pool);
    this.#resize(kind, pool);
    return `${kind}: ${effective} bots${effective !== instances ? ` (hive bots scale override; the config says ${instances})` : ''}`;
  }

  #removeKind(kind: string): string {
    const pool = this.#pools.get(kind) as KindPool;
    void this.stopGreen(kind, 'bot kind removed from the config');
    // Gone from the pools first: its bots' exits are not restarts, and no task goes to them.
    this.#pools.delete(kind);
    delete this.#registry.data.scale[kind];
    for (const bot of pool.bots) void this.#retire(bot, 'bot kind removed from the config');
    return `${kind}: removed; stopping its ${pool.bots.length} bots (their running tasks finish or go back to the queue)`;
  }

  #updateKind(kind: string, pool: KindPool, spec: BotSpec, instances: number): string[] {
    const notes: string[] = [];
    if (instances !== pool.configInstances) {
      const override = this.#registry.data.scale[kind];
      if (override && override.instances !== instances)
        notes.push(
          `${kind}: the config's instances (${instances}) replace the hive bots scale override (${override.instances})`,
        );
      delete this.#registry.data.scale[kind];
      pool.configInstances = instances;
      pool.instances = instances;
    }
    pool.spec = spec;
    for (const bot of pool.bots) {
      if (launchChanges(bot.spec, spec).length === 0 || !bot.running) this.#adopt(bot, spec);
    }
    this.#resize(kind, pool);
    const stale = pool.bots.filter((b) => launchChanges(b.spec, spec).length > 0);
    if (stale.length > 0) {
      const what = launchChanges((stale[0] as Bot).spec, spec).join(', ');
      notes.push(`${kind}: replacing ${stale.length} bots one at a time (${what} changed)`);
      void this.#rollout(kind);
    }
    return notes;
  }

  /** Gives a bot the new spec in place; a failed bot whose launch changed gets another chance. */
  #adopt(bot: Bot, spec: BotSpec): void {
    const relaunch = launchChanges(bot.spec, spec).length > 0;
    bot.spec = spec;
    if (relaunch && bot.state === 'failed' && !this.#closing) {
      this.#crashTimes.delete(bot.name);
      this.#consecutiveCrashes.delete(bot.name);
      bot.start();
    }
  }

  /**
   * Replaces a kind's bots whose launch is out of date, one at a time: start
   * the new bot, wait until it is ready, hand it the old one's place, then
   * stop the old one gracefully (its running tasks finish within its stop
   * timeout or go back to the queue). A replacement that fails to become
   * ready ends the rollout and the old bot keeps running; the next config
   * load tries again. Re-reads the pool each round, so a newer config that
   * arrives mid-way is what the rest of the rollout installs. Until it is
   * replaced, a bot that crashes restarts on the launch it had, so a broken
   * new command does not spread through crashes (`hive bots restart NAME`
   * does move a bot to the current config).
   */
  async #rollout(kind: string): Promise<void> {
    if (this.#rolling.has(kind)) return;
    this.#rolling.add(kind);
    try {
      for (;;) {
        const pool = this.#pools.get(kind);
        if (!pool || this.#closing) return;
        const old = pool.bots.find((b) => launchChanges(b.spec, pool.spec).length > 0);
        if (!old) {
          this.#log.info(`${kind}: every bot runs the current config`);
          return;
        }
        if (!old.running) this.#adopt(old, pool.spec);
        else if (!(await this.#replace(kind, pool, old))) return;
      }
    } finally {
      this.#rolling.delete(kind);
    }
  }

  async #replace(kind: string, pool: KindPool, old: Bot): Promise<boolean> {
    const fresh = this.#createBot(kind, this.#freeIndex(kind), pool.spec);
    this.#log.info(`${kind}: starting ${fresh.name} to replace ${old.name} (config changed)`, {
      bot: fresh.name,
      replaces: old.name,
    });
    const outcome = readyOrExit(fresh);
    fresh.start();
    this.#persist();
    const result = await outcome;
    const at = pool.bots.indexOf(old);
    if (result !== 'ready' || this.#closing || this.#pools.get(kind) !== pool) {
      if (result !== 'ready')
        this.#log.error(
          `${kind}: replacement ${fresh.name} did not become ready (${result.exit}); ${old.name} keeps running on the previous config; fix the config and reload`,
          { bot: fresh.name },
        );
      await this.#retire(fresh, 'replacement not needed');
      return false;
    }
    if (at === -1) {
      // The old bot went away meanwhile (scaled down): keep the new one only if there is room.
      if (pool.bots.length < pool.instances) pool.bots.push(fresh);
      else await this.#retire(fresh, 'scaled down');
      return true;
    }
    pool.bots[at] = fresh;
    this.emit('ready', fresh);
    await this.#retire(old, `replaced by ${fresh.name} (config changed)`);
    return true;
  }

  /** Stops a bot that left its pool, then forgets it. */
  async #retire(bot: Bot, reason: string): Promise<void> {
    this.#cancelRestart(bot.name);
    await bot.stop(reason);
    if (this.#byName.get(bot.name) === bot) {
      this.#byName.delete(bot.name);
      delete this.#registry.data.bots[bot.name];
    }
    this.#crashTimes.delete(bot.name);
    this.#consecutiveCrashes.delete(bot.name);
    this.#persist();
  }

  /** The lowest index whose name no bot holds (a stopping bot keeps its name until it is gone). */
  #freeIndex(kind: string, infix = ''): number {
    let index = 0;
    while (this.#byName.has(`${kind}-${infix}${index}`)) index++;
    return index;
  }

  /**
   * Sets how a promoted deployment changes a kind's configured spec; it
   * applies from the next `configure` (at start, on each config load).
   */
  setSpecOverride(override: (kind: string, spec: BotSpec) => BotSpec): void {
    this.#specOverride = override;
  }

  /**
   * Starts a deployment's green pool for a kind, beside its own: bots named
   * `KIND-gN`, restarted like any other. A green pool left from before is
   * stopped first: a kind never has two.
   */
  async startGreen(kind: string, spec: BotSpec, instances: number): Promise<Bot[]> {
    if (!this.#pools.has(kind))
      throw new HiveError('HIVE_BOT_KIND_NOT_FOUND', `no bot kind named ${kind}`);
    await this.stopGreen(kind, 'replaced by a new green pool');
    const pool: KindPool = { spec, configInstances: instances, instances, bots: [] };
    this.#greens.set(kind, pool);
    for (let i = 0; i < instances; i++) {
      const bot = this.#createBot(kind, this.#freeIndex(kind, 'g'), spec, 'g');
      pool.bots.push(bot);
      bot.start();
    }
    this.#persist();
    return pool.bots;
  }

  /**
   * Stops a kind's green pool (each bot gracefully: what it still runs
   * finishes within its stop timeout or goes back to the queue).
   */
  async stopGreen(kind: string, reason: string): Promise<void> {
    const pool = this.#greens.get(kind);
    if (!pool) return;
    // Out of the pools first: their exits are not restarts, and no task goes to them.
    this.#greens.delete(kind);
    await Promise.all(pool.bots.map((bot) => this.#retire(bot, reason)));
  }

  /**
   * Makes the green pool the kind's own pool (its spec too) and stops the
   * old bots gracefully. The caller has made the spec override say the same,
   * so a config load or a restart keeps the promoted version.
   */
  async promoteGreen(kind: string, reason: string): Promise<void> {
    const green = this.#greens.get(kind);
    const pool = this.#pools.get(kind);
    if (!green || !pool) return;
    this.#greens.delete(kind);
    const old = pool.bots;
    pool.spec = green.spec;
    pool.bots = green.bots;
    this.#resize(kind, pool);
    this.#persist();
    await Promise.all(old.map((bot) => this.#retire(bot, reason)));
  }

  /** The bots of a kind's green pool (empty without a deployment). */
  greenBots(kind: string): readonly Bot[] {
    return this.#greens.get(kind)?.bots ?? [];
  }

  /** A `hive bots scale` override counts only while the config still says what it overrode (as in #addKind). */
  #effectiveInstances(kind: string, configInstances: number): number {
    const override = this.#registry.data.scale[kind];
    return override && override.configInstances === configInstances
      ? override.instances
      : configInstances;
  }

  /**
   * Takes the scale overrides of a restored registry and resizes the pools
   * to match. Live bot records stay as they are: they describe processes
   * that exist now. Returns the pools that changed and the overrides for
   * kinds that are not configured (kept, but without effect).
   */
  async adoptScale(scale: RegistryDoc['scale']): Promise<{
    changed: { kind: string; from: number; to: number }[];
    unknownKinds: string[];
  }> {
    this.#registry.data.scale = structuredClone(scale);
    const changed: { kind: string; from: number; to: number }[] = [];
    const stopping: Promise<void>[] = [];
    for (const [kind, pool] of this.#pools) {
      const to = this.#effectiveInstances(kind, pool.configInstances);
      if (to === pool.instances) continue;
      changed.push({ kind, from: pool.instances, to });
      pool.instances = to;
      stopping.push(...this.#resize(kind, pool));
    }
    this.#persist();
    await Promise.all(stopping);
    return { changed, unknownKinds: Object.keys(scale).filter((k) => !this.#pools.has(k)) };
  }

  kinds(): string[] {
    return [...this.#pools.keys()];
  }

  pool(kind: string): { spec: BotSpec; instances: number } | undefined {
    const pool = this.#pools.get(kind);
    return pool && { spec: pool.spec, instances: pool.instances };
  }

  bots(): Bot[] {
    return [...this.#byName.values()];
  }

  /** The bot of that name, if any (no throw: for hot paths). */
  find(name: string): Bot | undefined {
    return this.#byName.get(name);
  }

  /** The bots of a kind's pool (empty for an unknown kind). */
  kindBots(kind: string): readonly Bot[] {
    return this.#pools.get(kind)?.bots ?? [];
  }

  get(name: string): Bot {
    const bot = this.#byName.get(name);
    if (!bot) throw new HiveError('HIVE_BOT_NOT_FOUND', `no bot named ${name}; see hive bots ls`);
    return bot;
  }

  /** True when some configured kind handles this task type (even if no bot is up now). */
  handles(taskType: string): boolean {
    for (const pool of this.#pools.values()) if (pool.spec.taskTypes.has(taskType)) return true;
    return false;
  }

  /** Bots that can take a task of this type right now (green pools' too: the pool step chooses). */
  candidates(taskType: string): Bot[] {
    const out: Bot[] = [];
    for (const pools of [this.#pools, this.#greens]) {
      for (const pool of pools.values()) {
        if (!pool.spec.taskTypes.has(taskType)) continue;
        for (const bot of pool.bots) if (bot.available) out.push(bot);
      }
    }
    return out;
  }

  /** Sets a kind's instance count now; remembered across daemon restarts. */
  async scale(kind: string, instances: number): Promise<{ from: number; to: number }> {
    const pool = this.#pools.get(kind);
    if (!pool)
      throw new HiveError(
        'HIVE_BOT_KIND_NOT_FOUND',
        `no bot kind named ${kind}; known: ${this.kinds().join(', ')}`,
      );
    const from = pool.instances;
    pool.instances = instances;
    if (instances === pool.configInstances) delete this.#registry.data.scale[kind];
    else this.#registry.data.scale[kind] = { instances, configInstances: pool.configInstances };
    const stopping = this.#resize(kind, pool);
    this.#persist();
    await Promise.all(stopping);
    return { from, to: instances };
  }

  /** Starts missing bots and stops surplus ones (out-of-date ones first, then the highest index). */
  #resize(kind: string, pool: KindPool): Promise<void>[] {
    const stopping: Promise<void>[] = [];
    while (pool.bots.length < pool.instances) {
      const bot = this.#createBot(kind, this.#freeIndex(kind), pool.spec);
      pool.bots.push(bot);
      bot.start();
    }
    while (pool.bots.length > pool.instances) {
      const victim = surplus(pool);
      pool.bots.splice(pool.bots.indexOf(victim), 1);
      stopping.push(this.#retire(victim, 'scaled down'));
    }
    return stopping;
  }

  /**
   * Stops and starts one bot, on its kind's current config; also revives a
   * bot marked failed. `reason` is what the logs and the audit trail say.
   */
  async restart(name: string, reason = 'restart requested'): Promise<void> {
    const bot = this.get(name);
    this.#cancelRestart(name);
    this.#crashTimes.delete(name);
    this.#consecutiveCrashes.delete(name);
    this.emit('restart', { bot, delayMs: 0, reason, requested: true });
    await bot.stop(reason);
    if (this.#closing || !this.#isCurrent(bot)) return;
    bot.restarts += 1;
    bot.spec = this.#poolOf(bot)?.spec ?? bot.spec;
    bot.start();
    this.#persist();
  }

  #createBot(kind: string, index: number, spec: BotSpec, infix = ''): Bot {
    const bot = new Bot({ name: `${kind}-${infix}${index}`, kind, index }, spec, {
      clock: this.#clock,
      log: this.#log,
      spawner: this.#spawner,
    });
    bot.on('ready', (b) => {
      this.#log.info(`${b.name} ready`, {
        bot: b.name,
        pid: b.pid,
        startMs: b.readyAt - b.startedAt,
      });
      this.#persist();
      this.emit('ready', b);
    });
    bot.on('start', (b) => this.emit('start', b));
    bot.on('exit', (exit) => this.#onExit(exit));
    bot.on('message', (m) => this.emit('message', m));
    bot.on('output', ({ bot: b, line }) =>
      this.#log.event('output', { bot: b.name, stream: line.stream, text: line.text }),
    );
    this.#byName.set(bot.name, bot);
    return bot;
  }

  #poolOf(bot: Bot): KindPool | undefined {
    const own = this.#pools.get(bot.kind);
    if (own?.bots.includes(bot)) return own;
    const green = this.#greens.get(bot.kind);
    return green?.bots.includes(bot) ? green : undefined;
  }

  #isCurrent(bot: Bot): boolean {
    return this.#byName.get(bot.name) === bot && this.#poolOf(bot) !== undefined;
  }

  #onExit(exit: BotExit): void {
    const { bot } = exit;
    const level = exit.requested ? 'info' : 'warn';
    this.#log[level](`${bot.name} exited: ${exit.reason}`, {
      bot: bot.name,
      code: exit.code,
      signal: exit.signal,
      inflight: bot.inflight.size,
    });
    this.emit('exit', exit);
    if (!exit.requested && !this.#closing && this.#isCurrent(bot)) this.#scheduleRestart(exit);
    this.#persist();
  }

  #scheduleRestart(exit: BotExit): void {
    const { bot } = exit;
    const policy = bot.spec.restart;
    const cleanExit = exit.code === 0 && exit.signal === null;
    if (policy.policy === 'never' || (policy.policy === 'on-failure' && cleanExit)) return;
    const now = this.#clock.now();
    const times = (this.#crashTimes.get(bot.name) ?? []).filter((t) => now - t < policy.windowMs);
    times.push(now);
    this.#crashTimes.set(bot.name, times);
    const consecutive =
      exit.upMs >= policy.resetAfterMs ? 1 : (this.#consecutiveCrashes.get(bot.name) ?? 0) + 1;
    this.#consecutiveCrashes.set(bot.name, consecutive);
    if (times.length > policy.maxRestarts) {
      bot.state = 'failed';
      bot.failureReason = `crash loop: ${times.length} exits within ${policy.windowMs} ms, last: ${exit.reason}; fix it, then run hive bots restart ${bot.name}`;
      this.#log.error(`${bot.name} failed: ${bot.failureReason}`, { bot: bot.name });
      this.emit('failed', { bot, reason: bot.failureReason });
      return;
    }
    const delay = Math.min(
      policy.initialDelayMs * policy.factor ** (consecutive - 1),
      policy.maxDelayMs,
    );
    bot.state = 'backoff';
    this.emit('restart', { bot, delayMs: delay, reason: exit.reason, requested: false });
    this.#restartTimers.set(
      bot.name,
      setTimeout(() => {
        this.#restartTimers.delete(bot.name);
        if (this.#closing || !this.#isCurrent(bot)) return;
        bot.restarts += 1;
        bot.start();
        this.#persist();
      }, delay),
    );
  }

  #cancelRestart(name: string): void {
    const timer = this.#restartTimers.get(name);
    if (timer) clearTimeout(timer);
    this.#restartTimers.delete(name);
  }

  /** Heartbeat and ready deadlines; called from the supervision loop. */
  checkDeadlines(): void {
    const now = this.#clock.now();
    for (const bot of this.#byName.values()) bot.checkDeadlines(now);
  }

  /** Reads each bot's RSS and restarts any bot over its limit. */
  checkMemory(): void {
    for (const bot of this.#byName.values()) {
      if (!bot.pid) continue;
      const rss = readRssBytes(bot.pid);
      bot.rssBytes = rss;
      const limit = bot.spec.memoryLimitBytes;
      if (rss !== undefined && limit !== undefined && rss > limit) {
        const mb = (n: number) => Math.round(n / 1024 / 1024);
        bot.kill(`memory limit: RSS ${mb(rss)} MB over ${mb(limit)} MB`, 'memory_limit');
      }
    }
  }

  #persist(): void {
    const bots: Record<string, RegistryBot> = {};
    for (const bot of this.#byName.values()) {
      bots[bot.name] = {
        kind: bot.kind,
        pid: bot.pid ?? null,
        startTicks: bot.startTicks ?? null,
        state: bot.state,
        restarts: bot.restarts,
        tasksDone: bot.tasksDone,
        startedAt: bot.startedAt,
      };
    }
    this.#registry.data.bots = bots;
    this.#registry.save().catch((error: unknown) => {
      this.#log.error(`registry write failed: ${String(error)}`);
    });
  }

  /** True when the bot runs with a launch (command, env...) older than its kind's config. */
  isOutdated(bot: Bot): boolean {
    const pool = this.#poolOf(bot);
    return pool !== undefined && launchChanges(bot.spec, pool.spec).length > 0;
  }

  /** Stops every bot (in parallel, each with its own grace sequence). */
  async close(): Promise<void> {
    this.#closing = true;
    for (const name of [...this.#restartTimers.keys()]) this.#cancelRestart(name);
    await Promise.all(this.bots().map((bot) => bot.stop('daemon stopping')));
    this.#persist();
    await this.#registry.save().catch(() => {});
  }
}

/** The bot to stop when a pool shrinks: an out-of-date one if any, else the highest index. */
function surplus(pool: KindPool): Bot {
  const byIndex = [...pool.bots].sort((a, b) => b.index - a.index);
  return byIndex.find((b) => launchChanges(b.spec, pool.spec).length > 0) ?? (byIndex[0] as Bot);
}
