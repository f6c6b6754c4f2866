import type { ResultMessage } from '../../protocol/bot.ts';
import type { ReleaseLabel } from '../../protocol/deploy.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Bot, BotExit } from '../bots/bot.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { MinHeap } from '../core/heap.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { DispatchRouting, Reroute } from './route.ts';
import { FINAL_STATES, type Task, type TaskError, type TaskRecord } from './task.ts';
import type { TaskQueue } from './task-queue.ts';

type QueueConfig = Config['queue'];

/** How one attempt of a task ended on a bot (what the scheduler learns from). */
export interface AttemptEnd {
  task: Task;
  bot: string;
  /** The bot object when it is still known (not after its lease expired and it left). */
  botRef: Bot | undefined;
  outcome: 'done' | 'error' | 'timeout' | 'crash';
  startedAt: number;
  at: number;
  /** A failure the bot declared permanent (the task's fault, not the bot's). */
  permanent: boolean;
  /** The deployment pool and version that ran it, when a deployment was under way. */
  release?: ReleaseLabel | undefined;
}

/** Told about every attempt that ends with a result, a timeout or a crash. */
export interface DispatchObserver {
  attemptEnded(end: AttemptEnd): void;
}

interface LeaseDeadline {
  id: string;
  token: number;
  expiresAt: number;
}

/**
 * Moves tasks from the queue to bots and results back: leases with fencing
 * tokens, lease expiry, retries with backoff, dead letters, and the drain on
 * shutdown. Every transition goes through the durable queue first; a bot
 * only sees a task after its lease is on disk.
 */
export class Dispatcher implements ConfigApplier {
  readonly configPart = 'tasks';
  /** Read at each lease and each retry: a change applies to the next one. */
  readonly configKeys = ['queue.retry', 'queue.leaseGraceMs'];
  readonly #queue: TaskQueue;
  readonly #bots: BotSupervisor;
  readonly #scheduler: Scheduler;
  readonly #routing: DispatchRouting | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  #config: QueueConfig;
  readonly #deadlines = new MinHeap<LeaseDeadline>((d) => d.expiresAt);
  /** Lease tokens whose result is being committed: a duplicate result is ignored. */
  readonly #settling = new Set<number>();
  #pumpScheduled = false;
  #paused = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #random: () => number;
  readonly #observers: DispatchObserver[] = [];

  constructor(deps: {
    queue: TaskQueue;
    bots: BotSupervisor;
    scheduler: Scheduler;
    clock: Clock;
    log: Logger;
    config: QueueConfig;
    random?: () => number;
    /** Modes and fallback kinds (degradation); without it every type goes to its own bots. */
    routing?: DispatchRouting;
    observer?: DispatchObserver;
  }) {
    this.#queue = deps.queue;
    this.#bots = deps.bots;
    this.#scheduler = deps.scheduler;
    this.#routing = deps.routing;
    if (deps.observer) this.#observers.push(deps.observer);
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#config = deps.config;
    this.#random = deps.random ?? Math.random;
    this.#queue.on('ready', () => this.schedulePump());
    this.#bots.on('ready', () => this.schedulePump());
    this.#bots.on('exit', (exit) => this.#onBotExit(exit));
    this.#bots.on('message', ({ bot, message }) => {
      if (message.type === 'result') this.#onResult(bot, message);
      else if (message.type === 'log')
        this.#log.info(`${bot.name}: ${message.message}`, { bot: bot.name });
    });
  }

  /** One more observer of ended attempts (the deployment part's per-pool statistics). */
  observe(observer: DispatchObserver): void {
    this.#observers.push(observer);
  }

  setConfig(config: QueueConfig): void {
    this.#config = config;
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      this.setConfig(next.config.queue);
      return undefined;
    };
  }

  /**
   * Requeues leases left over from the previous run (their bots are gone)
   * and re-arms lease deadlines. Called once after the queue is opened.
   */
  async recoverLeases(reason: string): Promise<number> {
    const stale = this.#requeues(reason);
    await Promise.all(stale.map(({ record }) => this.#queue.commit(record)));
    return stale.length;
  }

  /** A requeue record for every running task: its lease is given up without counting an attempt. */
  #requeues(reason: string): { task: Task; token: number; record: TaskRecord }[] {
    const at = this.#clock.now();
    return [...this.#queue.running()].map((task) => {
      const token = task.lease?.token ?? 0;
      return { task, token, record: { t: 'requeue', id: task.id, token, at, reason } };
    });
  }

  /**
   * Stops dispatching and puts every running task back in the queue (a
   * restore is about to replace the state). Bots holding one are told to
   * drop it; a result they send anyway bounces off the fencing token.
   * `resume()` dispatches again.
   */
  async releaseLeases(reason: string): Promise<number> {
    this.pause();
    return this.#release(this.#requeues(reason), reason);
  }

  /**
   * Puts the tasks these bots run back in the queue without counting an
   * attempt (a deployment's abort, once green's drain time is over): the
   * bots are told to drop them; a late result bounces off the fencing token.
   */
  requeueFrom(bots: ReadonlySet<string>, reason: string): Promise<number> {
    const theirs = this.#requeues(reason).filter((r) => bots.has(r.task.lease?.bot ?? ''));
    return this.#release(theirs, reason);
  }

  async #release(
    running: { task: Task; token: number; record: TaskRecord }[],
    reason: string,
  ): Promise<number> {
    await Promise.all(
      running.map(({ task, token, record }) => {
        const bot = task.lease && this.#bots.bots().find((b) => b.name === task.lease?.bot);
        if (bot?.inflight.delete(task.id)) bot.send({ type: 'cancel', id: task.id, token, reason });
        return this.#settle(task, token, record);
      }),
    );
    return running.length;
  }

  /** Runs a dispatch pass soon, coalescing many triggers into one. */
  schedulePump(): void {
    if (this.#pumpScheduled || this.#paused) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#paused) return;
    const now = this.#clock.now();
    this.#armRetryTimer(this.#queue.ready.promoteDue(now));
    for (const type of this.#queue.ready.types()) {
      if (this.#queue.ready.size(type) === 0) continue;
      const route = this.#routing?.(type);
      const candidates = route ? route.bots : this.#bots.candidates(type);
      while (candidates.length > 0) {
        const task = this.#queue.ready.take(type);
        if (!task) break;
        const held = route !== undefined && task.priority > route.maxPriority;
        const bot = held ? undefined : this.#scheduler.pick(task, candidates);
        if (!bot) {
          this.#queue.ready.restore(task);
          break;
        }
        bot.inflight.add(task.id);
        if (!bot.available) candidates.splice(candidates.indexOf(bot), 1);
        void this.#lease(task, bot, now, route?.reroute?.(bot));
      }
    }
  }

  #armRetryTimer(nextDue: number | undefined): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (nextDue === undefined) return;
    const delay = Math.max(0, nextDue - this.#clock.now());
    this.#retryTimer = setTimeout(() => this.schedulePump(), delay);
    this.#retryTimer.unref();
  }

  async #lease(task: Task, bot: Bot, now: number, reroute?: Reroute): Promise<void> {
    const expiresAt = now + task.timeoutMs + this.#config.leaseGraceMs;
    let token: number;
    try {
      token = await this.#queue.commit({
        t: 'lease',
        id: task.id,
        bot: bot.name,
        at: now,
        expiresAt,
        ...(reroute ? { reroute } : {}),
        ...(bot.release ? { release: bot.release } : {}),
      });
    } catch (error) {
      bot.inflight.delete(task.id);
      if (task.state === 'queued') this.#queue.ready.restore(task);
      this.#log.error(`lease of ${task.id} not persisted: ${String(error)}`, { task: task.id });
      return;
    }
    if (task.state !== 'running' || task.lease?.token !== token) {
      // Cancelled while the lease was being written.
      bot.inflight.delete(task.id);
      this.schedulePump();
      return;
    }
    this.#deadlines.push({ id: task.id, token, expiresAt });
    const sent =
      bot.state === 'ready' &&
      bot.send({
        type: 'task',
        id: task.id,
        token,
        taskType: task.type,
        payload: task.payload,
        attempt: task.attempts,
        timeoutMs: task.timeoutMs,
      });
    if (!sent) {
      bot.inflight.delete(task.id);
      await this.#settle(task, token, {
        t: 'requeue',
        id: task.id,
        token,
        at: this.#clock.now(),
        reason: `${bot.name} went away before the task reached it`,
      });
    }
  }

  #onResult(bot: Bot, message: ResultMessage): void {
    const task = this.#queue.get(message.id);
    const lease = task?.lease;
    if (task?.state !== 'running' || lease?.token !== message.token || lease.bot !== bot.name) {
      this.#log.event('stale-result', {
        task: message.id,
        token: message.token,
        bot: bot.name,
        why: task ? `lease token ${lease?.token ?? 'none'} (state ${task.state})` : 'unknown task',
      });
      return;
    }
    if (this.#settling.has(message.token)) return;
    bot.inflight.delete(task.id);
    const at = this.#clock.now();
    const permanent = !message.ok && message.error?.retryable === false;
    this.#ended(task, bot.name, bot, message.ok ? 'done' : 'error', at, permanent);
    if (message.ok) {
      bot.tasksDone += 1;
      void this.#settle(task, message.token, {
        t: 'done',
        id: task.id,
        token: message.token,
        at,
        result: message.result,
      });
      return;
    }
    bot.tasksFailed += 1;
    const error: TaskError = {
      reason: 'bot_error',
      message: message.error?.message ?? 'bot reported a failure',
    };
    void this.#fail(task, message.token, 'error', error, permanent);
    this.schedulePump();
  }

  #ended(
    task: Task,
    bot: string,
    botRef: Bot | undefined,
    outcome: AttemptEnd['outcome'],
    at: number,
    permanent = false,
  ): void {
    if (this.#observers.length === 0) return;
    const token = task.lease?.token;
    const attempt = task.history.findLast((a) => a.token === token);
    const startedAt = attempt?.startedAt ?? at;
    const release = attempt?.release;
    const end: AttemptEnd = { task, bot, botRef, outcome, startedAt, at, permanent, release };
    for (const observer of this.#observers) observer.attemptEnded(end);
  }

  #onBotExit(exit: BotExit): void {
    const { bot } = exit;
    for (const id of [...bot.inflight]) {
      bot.inflight.delete(id);
      const task = this.#queue.get(id);
      const token = task?.lease?.token;
      if (task?.state !== 'running' || token === undefined || task.lease?.bot !== bot.name)
        continue;
      if (exit.requested) {
        void this.#settle(task, token, {
          t: 'requeue',
          id,
          token,
          at: this.#clock.now(),
          reason: `${bot.name} stopped: ${exit.reason}`,
        });
      } else {
        this.#ended(task, bot.name, bot, 'crash', this.#clock.now());
        void this.#fail(
          task,
          token,
          'crash',
          { reason: 'crash', message: `${bot.name} ${exit.reason}` },
          false,
        );
      }
    }
    this.schedulePump();
  }

  /** Called from the supervision loop: leases past their deadline fail as timeouts. */
  expireLeases(): void {
    const now = this.#clock.now();
    for (
      let next = this.#deadlines.peek();
      next && next.expiresAt <= now;
      next = this.#deadlines.peek()
    ) {
      this.#deadlines.pop();
      const task = this.#queue.get(next.id);
      if (task?.state !== 'running' || task.lease?.token !== next.token) continue;
      const botName = task.lease.bot;
      let bot: Bot | undefined;
      try {
        bot = this.#bots.get(botName);
      } catch {
        bot = undefined;
      }
      bot?.inflight.delete(task.id);
      bot?.send({ type: 'cancel', id: task.id, token: next.token, reason: 'lease expired' });
      this.#ended(task, botName, bot, 'timeout', now);
      void this.#fail(
        task,
        next.token,
        'timeout',
        { reason: 'timeout', message: `no result from ${botName} within ${task.timeoutMs} ms` },
        false,
      );
    }
  }

  async #fail(
    task: Task,
    token: number,
    outcome: 'error' | 'timeout' | 'crash',
    error: TaskError,
    permanent: boolean,
  ): Promise<void> {
    const at = this.#clock.now();
    const exhausted = task.attempts >= task.maxAttempts;
    if (permanent || exhausted) {
      const final = outcome === 'error' ? 'failed' : 'dead';
      const finalError: TaskError =
        exhausted && !permanent
          ? {
              ...error,
              message: `${error.message} (attempt ${task.attempts} of ${task.maxAttempts}, giving up)`,
            }
          : error;
      await this.#settle(task, token, {
        t: 'fail',
        id: task.id,
        token,
        at,
        outcome,
        error: finalError,
        final,
      });
      const log = final === 'dead' ? this.#log.warn : this.#log.info;
      log(`task ${task.id} ${final}: ${finalError.message}`, { task: task.id, type: task.type });
      return;
    }
    await this.#settle(task, token, {
      t: 'fail',
      id: task.id,
      token,
      at,
      outcome,
      error,
      retryAt: at + this.#retryDelay(task.attempts),
    });
  }

  #retryDelay(attempts: number): number {
    const { initialDelayMs, factor, maxDelayMs, jitter } = this.#config.retry;
    const base = Math.min(initialDelayMs * factor ** Math.max(0, attempts - 1), maxDelayMs);
    return Math.max(0, Math.round(base * (1 + jitter * (this.#random() * 2 - 1))));
  }

  async #settle(task: Task, token: number, record: TaskRecord): Promise<void> {
    this.#settling.add(token);
    try {
      await this.#queue.commit(record);
    } catch (error) {
      // The lease stays; its deadline retries the outcome as a timeout.
      this.#log.error(`could not persist the outcome of ${task.id}: ${String(error)}`, {
        task: task.id,
      });
    } finally {
      this.#settling.delete(token);
      this.schedulePump();
    }
  }

  /**
   * Cancels a task that is not final. A running task's bot is told to stop
   * it; a result it sends later is rejected by the fencing token.
   */
  async cancel(id: string, reason: string, by?: string): Promise<Task> {
    const task = this.#queue.require(id);
    if (FINAL_STATES.has(task.state)) {
      throw new HiveError('HIVE_TASK_ALREADY_FINAL', `task ${id} is already ${task.state}`);
    }
    const lease = task.lease;
    await this.#queue.commit({
      t: 'cancel',
      id,
      at: this.#clock.now(),
      reason,
      ...(by ? { by } : {}),
    });
    if (lease && task.state === 'cancelled') {
      const bot = this.#bots.bots().find((b) => b.name === lease.bot);
      if (bot?.inflight.delete(id)) bot.send({ type: 'cancel', id, token: lease.token, reason });
      this.schedulePump();
    }
    return task;
  }

  /** Number of tasks leased right now. */
  get inflight(): number {
    return this.#queue.counts().running;
  }

  /** Stops handing out tasks (running ones continue). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.schedulePump();
  }

  /**
   * Shutdown: no new leases; running tasks get until `timeoutMs` to finish,
   * then go back to the queue without counting an attempt.
   */
  async drain(timeoutMs: number): Promise<{ finished: number; requeued: number }> {
    this.pause();
    clearTimeout(this.#retryTimer);
    const start = this.#queue.counts().running;
    const deadline = this.#clock.now() + timeoutMs;
    while (this.#queue.counts().running > 0 && this.#clock.now() < deadline) {
      await new Promise<void>((resolve) => {
        const off = this.#queue.on('changed', () => {
          off();
          clearTimeout(timer);
          resolve();
        });
        const timer = setTimeout(
          () => {
            off();
            resolve();
          },
          Math.max(1, deadline - this.#clock.now()),
        );
      });
    }
    const left = this.#requeues('daemon stopping');
    await Promise.all(left.map(({ task, token, record }) => this.#settle(task, token, record)));
    return { finished: start - left.length, requeued: left.length };
  }

  close(): void {
    this.pause();
    clearTimeout(this.#retryTimer);
  }
}
