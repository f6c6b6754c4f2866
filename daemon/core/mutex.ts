/**
 * One operation at a time, in arrival order, with the name of the one that
 * runs (for status lines). Backups, restores and pruning share one, so a
 * prune never deletes what a restore is reading.
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  #current: { name: string; since: number } | undefined;

  /** The operation running now, if any. */
  get current(): { name: string; since: number } | undefined {
    return this.#current;
  }

  run<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(async () => {
      this.#current = { name, since: Date.now() };
      try {
        return await operation();
      } finally {
        this.#current = undefined;
      }
    });
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Resolves once everything queued so far has finished. */
  async idle(): Promise<void> {
    await this.#tail;
  }
}
