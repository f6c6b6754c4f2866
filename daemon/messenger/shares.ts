import { MESSAGE_PRIORITIES } from '../../protocol/bot.ts';

/** Minimum shares of deliveries for P1..P3 while they wait behind more urgent messages. */
export interface ShareConfig {
  p1: number;
  p2: number;
  p3: number;
}

/**
 * Strict priority with guaranteed minimum shares, per inbox. Each delivery
 * of a more urgent message credits every backlogged less urgent priority p
 * with s/(1 - s) (s its share); a priority whose credit reaches 1 is served
 * next (the largest credit first) and pays 1. So under a P0 flood P3 gets
 * exactly its share of the deliveries, and otherwise a free slot goes to
 * the most urgent message, whatever came first. Credit is never banked: it
 * resets when a priority has nothing waiting or is served without it, so a
 * burst after a quiet spell cannot push P0 aside.
 */
export class PriorityShares {
  /** Credit per more urgent delivery, by level. */
  #accrual: number[] = [0, 0, 0, 0];
  readonly #credits = new Map<string, number[]>();

  constructor(config: ShareConfig) {
    this.configure(config);
  }

  configure(config: ShareConfig): void {
    this.#accrual = [0, config.p1, config.p2, config.p3].map((s) => (s > 0 ? s / (1 - s) : 0));
  }

  /** The level owed a delivery now (-1: none; take the most urgent). */
  owed(inbox: string, backlog: (level: number) => boolean): number {
    const credits = this.#credits.get(inbox);
    if (!credits) return -1;
    let best = -1;
    let most = 1 - 1e-9;
    for (let level = 1; level < MESSAGE_PRIORITIES; level++) {
      const credit = credits[level] ?? 0;
      if (credit >= most && backlog(level)) {
        best = level;
        most = credit;
      }
    }
    return best;
  }

  /** Books one delivery of `level` from `inbox`; `owed` is what owed() said before it. */
  served(inbox: string, level: number, owed: number, backlog: (level: number) => boolean): void {
    let credits = this.#credits.get(inbox);
    if (!credits) {
      credits = [0, 0, 0, 0];
      this.#credits.set(inbox, credits);
    }
    for (let p = 1; p < MESSAGE_PRIORITIES; p++) {
      if (p === level) credits[p] = owed === level ? Math.max(0, (credits[p] ?? 0) - 1) : 0;
      else if (!backlog(p)) credits[p] = 0;
      else if (p > level) credits[p] = (credits[p] ?? 0) + (this.#accrual[p] ?? 0);
    }
  }

  /** Forgets an inbox (it emptied). */
  drop(inbox: string): void {
    this.#credits.delete(inbox);
  }
}
