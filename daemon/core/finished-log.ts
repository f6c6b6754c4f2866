import { Deque } from './deque.ts';

/** How long finished records are kept: by count and by age, pruned in batches. */
export interface RetentionRule {
  maxFinished: number;
  maxAgeMs: number;
  pruneBatch: number;
}

/**
 * Ids of finished records (tasks, messages) in finishing order, so that
 * pruning looks only at the oldest ones instead of scanning everything.
 */
export class FinishedLog {
  #ids = new Deque<string>();

  push(id: string): void {
    this.#ids.push(id);
  }

  clear(): void {
    this.#ids = new Deque<string>();
  }

  /**
   * Ids past their retention: older than maxAgeMs, or beyond the newest
   * maxFinished; at most pruneBatch of them. `finishedAt` answers undefined
   * for a record that is gone or no longer finished (it is dropped here).
   */
  prunable(
    rule: RetentionRule,
    now: number,
    finishedAt: (id: string) => number | undefined,
  ): string[] {
    const ids: string[] = [];
    while (this.#ids.size > 0) {
      const id = this.#ids.peek() as string;
      const at = finishedAt(id);
      if (at === undefined) {
        this.#ids.shift();
        continue;
      }
      const tooMany = this.#ids.size > rule.maxFinished;
      const tooOld = now - at > rule.maxAgeMs;
      if (!tooMany && !tooOld) break;
      ids.push(id);
      this.#ids.shift();
      if (ids.length >= rule.pruneBatch) break;
    }
    return ids;
  }
}

/**
 * Prunes in batches until nothing is due: `next` hands out at most one
 * batch (so that one record stays small), `commit` makes it durable. One
 * batch per interval would fall behind a sustained load, and finished
 * records would pile up in memory and in every snapshot.
 */
export async function pruneDue(
  next: () => string[],
  commit: (ids: string[]) => Promise<unknown>,
): Promise<void> {
  for (let ids = next(); ids.length > 0; ids = next()) await commit(ids);
}
