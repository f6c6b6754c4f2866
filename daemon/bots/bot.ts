import type { ChildProcess } from 'node:child_process';
import { BotEnv, type BotToDaemon, type DaemonToBot, parseBotMessage } from '../../protocol/bot.ts';
import type { ReleaseLabel } from '../../protocol/deploy.ts';
import type { BotState } from '../../protocol/views.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import type { Logger } from '../logs/log-hub.ts';
import { type BotChannel, ipcChannel, type OutputLine, stdioChannel } from './channel.ts';
import { readProcStat, signalGroup } from './proc.ts';
import type { BotSpec } from './spec.ts';

export { BOT_STATES, type BotState } from '../../protocol/views.ts';

/** Why hived killed a bot itself (absent for a crash or a requested stop). */
export type KillCause = 'memory_limit' | 'heartbeat' | 'start_timeout' | 'protocol';

export interface BotExit {
  bot: Bot;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it ended, in words an operator can act on. */
  reason: string;
  /** True when the daemon asked it to stop (scale down, restart, shutdown). */
  requested: boolean;
  /** Milliseconds it was ready before it ended (0 if it never became ready). */
  upMs: number;
  /** Set when hived killed it for breaking a rule. */
  cause?: KillCause;
}

export interface BotEvents {
  /** A process was launched for this bot (it has a pid). */
  start: Bot;
  ready: Bot;
  exit: BotExit;
  message: { bot: Bot; message: BotToDaemon };
  output: { bot: Bot; line: OutputLine };
}

/** How bot processes are launched; the default adds parent-death protection. */
export interface Spawner {
  spawn(spec: BotSpec, env: NodeJS.ProcessEnv): ChildProcess;
}

/**
 * One named bot slot (`echo-0`) and the process currently filling it.
 * Restart decisions belong to the supervisor; a Bot only runs, watches and
 * stops one process at a time.
 */
export class Bot extends TypedEmitter<BotEvents> {
  readonly name: string;
  readonly kind: string;
  readonly index: number;
  spec: BotSpec;
  state: BotState = 'stopped';
  pid: number | undefined;
  processGroup: number | undefined;
  startTicks: number | undefined;
  restarts = 0;
  tasksDone = 0;
  tasksFailed = 0;
  /** Task ids leased to this bot right now (kept by the task dispatcher). */
  readonly inflight = new Set<string>();
  startedAt = 0;
  readyAt = 0;
  lastMessageAt = 0;
  rssBytes: number | undefined;
  /** Set when the supervisor gives up on the bot (crash loop). */
  failureReason: string | undefined;
  lastExit: { code: number | null; signal: string | null; reason: string; at: number } | undefined;
  version: string | undefined;
  /** The deployment pool and version this bot belongs to while a deployment runs (issue 8). */
  release: ReleaseLabel | undefined;

  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #spawner: Spawner;
  #child: ChildProcess | undefined;
  #channel: BotChannel | undefined;
  #killReason: string | undefined;
  #killCause: KillCause | undefined;
  #stopRequested = false;
  #exited: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];

  constructor(
    identity: { name: string; kind: string; index: number },
    spec: BotSpec,
    deps: { clock: Clock; log: Logger; spawner: Spawner },
  ) {
    super();
    this.name = identity.name;
    this.kind = identity.kind;
    this.index = identity.index;
    this.spec = spec;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#spawner = deps.spawner;
  }

  /** Ready and below its concurrency: may take a task now. */
  get available(): boolean {
    return this.state === 'ready' && this.inflight.size < this.concurrency;
  }

  /**
   * Tasks this bot may run at once right now: its configured concurrency,
   * capped by an adaptive limit (the scheduler's, on failures and timeouts)
   * and scaled by a pressure factor (degradation), never below 1.
   */
  get concurrency(): number {
    const limit = Math.min(this.spec.concurrency, this.adaptiveLimit ?? Number.POSITIVE_INFINITY);
    return Math.max(1, Math.floor(limit * this.pressureFactor));
  }

  /** Set by the scheduler (additive increase, multiplicative decrease); undefined: no cap. */
  adaptiveLimit: number | undefined;
  /** Set by the degradation part: 1 in normal operation, lower under pressure. */
  pressureFactor = 1;

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Launches a process; resolves at once (readiness arrives as the `ready` event). */
  start(): void {
    if (this.#child) return;
    this.state = 'starting';
    this.#killReason = undefined;
    this.#killCause = undefined;
    this.#stopRequested = false;
    this.failureReason = undefined;
    this.version = undefined;
    const now = this.#clock.now();
    this.startedAt = now;
    this.readyAt = 0;
    this.lastMessageAt = now;
    const env: NodeJS.ProcessEnv = {
      ...this.spec.env,
      [BotEnv.Name]: this.name,
      [BotEnv.Kind]: this.kind,
      [BotEnv.HeartbeatMs]: String(this.spec.heartbeatIntervalMs),
      [BotEnv.Transport]: this.spec.transport,
    };
    let child: ChildProcess;
    try {
      child = this.#spawner.spawn(this.spec, env);
    } catch (error) {
      this.#finish(null, null, `spawn failed: ${(error as Error).message}`);
      return;
    }
    this.#child = child;
    this.pid = child.pid;
    this.processGroup = child.pid;
    this.startTicks = child.pid ? readProcStat(child.pid)?.startTicks : undefined;
    const handlers = {
      message: (value: unknown) => this.#onMessage(value),
      output: (line: OutputLine) => this.emit('output', { bot: this, line }),
      violation: (reason: string) => this.kill(`protocol violation: ${reason}`, 'protocol'),
      maxLineBytes: () => this.spec.maxLineBytes,
    };
    this.#channel =
      this.spec.transport === 'ipc' ? ipcChannel(child, handlers) : stdioChannel(child, handlers);
    if (child.pid !== undefined) this.emit('start', this);
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#finish(code, signal, undefined);
        resolve();
      });
      child.once('error', (error) => {
        // 'error' without 'exit' means the process never started.
        if (child.pid === undefined) {
          this.#finish(null, null, `spawn failed: ${error.message}`);
          resolve();
        }
      });
    });
  }

  #onMessage(value: unknown): void {
    this.lastMessageAt = this.#clock.now();
    const message = parseBotMessage(value);
    if (typeof message === 'string') {
      this.#log.warn(`${this.name} sent a bad message: ${message}`, { bot: this.name });
      return;
    }
    if (message.type === 'ready') {
      if (this.state !== 'starting') return;
      this.state = 'ready';
      this.readyAt = this.lastMessageAt;
      this.version = message.version;
      this.emit('ready', this);
      return;
    }
    if (message.type === 'heartbeat') return;
    this.emit('message', { bot: this, message });
  }

  send(message: DaemonToBot): boolean {
    return this.#channel?.send(message) ?? false;
  }

  /**
   * Called on every supervision tick: enforces the ready deadline and the
   * heartbeat deadline. A bot that fails either is killed (and replaced by
   * the supervisor's restart policy).
   */
  checkDeadlines(now: number): void {
    if (!this.#child || this.#killReason) return;
    if (this.state === 'starting' && now - this.startedAt > this.spec.startTimeoutMs) {
      this.kill(`no ready message within ${this.spec.startTimeoutMs} ms`, 'start_timeout');
    } else if (this.state === 'ready' && now - this.lastMessageAt > this.spec.heartbeatTimeoutMs) {
      this.kill(`missed heartbeats for ${now - this.lastMessageAt} ms`, 'heartbeat');
    }
  }

  /** Kills the whole process group now; `reason` becomes the exit reason. */
  kill(reason: string, cause?: KillCause): void {
    if (!this.#child || this.#killReason) return;
    this.#killReason = reason;
    this.#killCause = cause;
    this.#log.warn(`killing ${this.name}: ${reason}`, { bot: this.name, pid: this.pid });
    this.#signal('SIGKILL');
  }

  /**
   * Graceful stop: a shutdown message, SIGTERM after `stopTimeoutMs`, SIGKILL
   * `killTimeoutMs` later. Resolves once the process is gone.
   */
  async stop(reason: string): Promise<void> {
    if (!this.#child) {
      if (this.state === 'backoff' || this.state === 'failed') this.state = 'stopped';
      return;
    }
    this.#stopRequested = true;
    this.#killReason ??= reason;
    this.state = 'stopping';
    const grace = this.spec.stopTimeoutMs;
    if (!this.send({ type: 'shutdown', reason, graceMs: grace })) this.#signal('SIGTERM');
    this.#timers.push(
      setTimeout(() => this.#signal('SIGTERM'), grace),
      setTimeout(() => this.#signal('SIGKILL'), grace + this.spec.killTimeoutMs),
    );
    await this.#exited;
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.processGroup && signalGroup(this.processGroup, signal)) return;
    try {
      this.#child?.kill(signal);
    } catch {
      // already gone
    }
  }

  #finish(
    code: number | null,
    signal: NodeJS.Signals | null,
    spawnError: string | undefined,
  ): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    // Whatever the leader left behind in its group goes with it.
    if (this.processGroup) signalGroup(this.processGroup, 'SIGKILL');
    const now = this.#clock.now();
    const upMs = this.readyAt ? now - this.readyAt : 0;
    const reason =
      spawnError ??
      this.#killReason ??
      (signal
        ? `killed by ${signal}`
        : code === 0
          ? 'exited with code 0'
          : `exited with code ${code}`);
    this.lastExit = { code, signal, reason, at: now };
    this.#child = undefined;
    this.#channel = undefined;
    this.pid = undefined;
    this.processGroup = undefined;
    this.startTicks = undefined;
    this.rssBytes = undefined;
    this.state = 'stopped';
    const requested = this.#stopRequested;
    const cause = requested ? undefined : this.#killCause;
    this.emit('exit', {
      bot: this,
      code,
      signal,
      reason,
      requested,
      upMs,
      ...(cause ? { cause } : {}),
    });
  }

  /** Resolves when the current process (if any) has exited. */
  exited(): Promise<void> {
    return this.#exited;
  }
}

/**
 * Resolves with `ready`, or with the exit reason if the process ends first.
 * Call it before `start()`: a spawn failure exits synchronously.
 */
export function readyOrExit(bot: Bot): Promise<'ready' | { exit: string }> {
  return new Promise((resolve) => {
    const offReady = bot.once('ready', () => {
      offExit();
      resolve('ready');
    });
    const offExit = bot.once('exit', (exit) => {
      offReady();
      resolve({ exit: exit.reason });
    });
  });
}
