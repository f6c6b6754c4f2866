import { HiveError } from '../../protocol/errors.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { pruneDue } from '../core/finished-log.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { Dispatcher } from '../tasks/dispatcher.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import type { ServiceNotifier } from './notify.ts';

/**
 * The daemon's heartbeat: one timer that enforces deadlines (bot
 * heartbeats, lease expiry), reads bot memory, prunes finished tasks, keeps
 * the systemd STATUS= line current, and pets the watchdog only while the
 * loop itself runs on time, so a wedged daemon gets restarted.
 */
export interface SupervisionDeps {
  clock: Clock;
  config: Config['supervision'];
  retention: Config['queue']['retention'];
  bots: BotSupervisor;
  dispatcher: Dispatcher;
  queue: TaskQueue;
  notifier: ServiceNotifier;
  log: Logger;
  /** Put in front of the STATUS= line (the degradation mode and why). */
  statusPrefix?: () => string;
}

export class SupervisionLoop implements ConfigApplier {
  readonly configPart = 'supervision';
  readonly configKeys = ['supervision', 'queue.retention'];
  readonly #deps: SupervisionDeps;
  #timer: NodeJS.Timeout | undefined;
  #lastMemoryCheck = 0;
  #lastPrune = 0;
  #lastWatchdog = 0;
  #lastTick = 0;
  #pruning = false;

  constructor(deps: SupervisionDeps) {
    this.#deps = { ...deps };
  }

  start(): void {
    this.#lastTick = this.#deps.clock.now();
    this.#timer = setInterval(() => this.#tick(), this.#deps.config.tickMs);
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      const tickChanged = next.config.supervision.tickMs !== this.#deps.config.tickMs;
      this.#deps.config = next.config.supervision;
      this.#deps.retention = next.config.queue.retention;
      if (tickChanged && this.#timer) {
        clearInterval(this.#timer);
        this.start();
      }
      return undefined;
    };
  }

  #tick(): void {
    const { clock, config, bots, dispatcher, notifier } = this.#deps;
    const now = clock.now();
    const late = now - this.#lastTick - config.tickMs;
    this.#lastTick = now;
    try {
      bots.checkDeadlines();
      dispatcher.expireLeases();
      if (now - this.#lastMemoryCheck >= config.memoryCheckIntervalMs) {
        this.#lastMemoryCheck = now;
        bots.checkMemory();
      }
      if (now - this.#lastPrune >= this.#deps.retention.pruneIntervalMs) {
        this.#lastPrune = now;
        void this.#prune();
      }
      this.#updateStatus();
      const interval = notifier.watchdogIntervalMs;
      // A tick that ran far too late means the event loop is wedged: let the watchdog fire.
      if (interval !== undefined && now - this.#lastWatchdog >= interval && late < interval) {
        this.#lastWatchdog = now;
        notifier.watchdog();
      }
    } catch (error) {
      this.#deps.log.error(`supervision tick failed: ${String(error)}`);
    }
  }

  async #prune(): Promise<void> {
    if (this.#pruning) return;
    this.#pruning = true;
    try {
      await pruneDue(
        () => this.#deps.queue.prunable(this.#deps.retention),
        (ids) => this.#deps.queue.commit({ t: 'prune', ids }),
      );
    } catch (error) {
      // A restore suspends the queue for a moment; the next interval prunes.
      if (error instanceof HiveError && error.code === 'HIVE_STORE_SUSPENDED') return;
      this.#deps.log.error(`prune failed: ${String(error)}`);
    } finally {
      this.#pruning = false;
    }
  }

  #updateStatus(): void {
    const bots = this.#deps.bots.bots();
    const ready = bots.filter((b) => b.state === 'ready').length;
    const counts = this.#deps.queue.counts();
    const prefix = this.#deps.statusPrefix?.();
    // The notifier sends only a text that differs from the one systemd shows.
    this.#deps.notifier.status(
      `${prefix ? `${prefix}; ` : ''}${ready}/${bots.length} bots ready; ${counts.queued} queued, ${counts.running} running`,
    );
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
