import type { Clock } from './clock.ts';

/**
 * One timer for "the next thing due" of a part (an expiry, a backoff, a
 * deadline): asking for an earlier time re-arms it, a later one is ignored
 * until it fires, and the callback arms it again for whatever is next. One
 * setTimeout per wake-up instead of one per item.
 */
export class DueTimer {
  readonly #fire: () => void;
  readonly #clock: Clock;
  #timer: NodeJS.Timeout | undefined;
  #at = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(fire: () => void, clock: Clock) {
    this.#fire = fire;
    this.#clock = clock;
  }

  /** Wakes up at `time` at the latest (undefined: nothing due). */
  at(time: number | undefined): void {
    if (time === undefined || time >= this.#at || this.#closed) return;
    clearTimeout(this.#timer);
    this.#at = time;
    this.#timer = setTimeout(
      () => {
        this.#at = Number.POSITIVE_INFINITY;
        this.#timer = undefined;
        this.#fire();
      },
      Math.max(0, time - this.#clock.now()),
    );
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
