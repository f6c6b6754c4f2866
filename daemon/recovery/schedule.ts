import type { Clock } from '../core/clock.ts';

/** What `hive recovery status` shows of the automatic backups. */
export interface ScheduleView {
  intervalMs: number;
  nextAt: number | null;
  runs: number;
  lastOutcome?: string;
  lastError?: string;
}

/**
 * The timer of automatic backups. The next run is due one interval after
 * the newest full backup (not after the daemon's start), so a daemon that
 * restarts often still backs up on time.
 */
export class BackupSchedule {
  readonly #clock: Clock;
  readonly #run: () => Promise<string>;
  readonly #timing: () => { intervalMs: number; lastBackupAt: number | undefined } | undefined;
  readonly #onError: (message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #view: ScheduleView = { intervalMs: 0, nextAt: null, runs: 0 };
  #lastRunAt = 0;

  /**
   * @param deps.run takes the backup (or decides to skip it); returns what it did.
   * @param deps.timing the interval and the newest backup's time, or undefined: no schedule.
   */
  constructor(deps: {
    clock: Clock;
    run: () => Promise<string>;
    timing: () => { intervalMs: number; lastBackupAt: number | undefined } | undefined;
    onError: (message: string) => void;
  }) {
    this.#clock = deps.clock;
    this.#run = deps.run;
    this.#timing = deps.timing;
    this.#onError = deps.onError;
  }

  get view(): ScheduleView {
    return { ...this.#view };
  }

  /** (Re)computes the next run from the current settings; call after a config change. */
  arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const timing = this.#timing();
    this.#view.intervalMs = timing?.intervalMs ?? 0;
    this.#view.nextAt = null;
    if (!timing || timing.intervalMs === 0) return;
    const now = this.#clock.now();
    const from = Math.max(timing.lastBackupAt ?? now, this.#lastRunAt);
    const nextAt = Math.max(now + Math.min(1000, timing.intervalMs), from + timing.intervalMs);
    this.#view.nextAt = nextAt;
    this.#timer = setTimeout(() => void this.#tick(), nextAt - now);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#view.nextAt = null;
  }

  async #tick(): Promise<void> {
    this.#view.runs += 1;
    this.#lastRunAt = this.#clock.now();
    try {
      this.#view.lastOutcome = await this.#run();
      delete this.#view.lastError;
    } catch (error) {
      const message = (error as Error).message;
      this.#view.lastError = `${new Date(this.#clock.now()).toISOString()}: ${message}`;
      this.#onError(message);
    } finally {
      if (this.#timer !== undefined || this.#view.nextAt !== null) this.arm();
    }
  }
}
