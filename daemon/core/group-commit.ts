import type { FileHandle } from 'node:fs/promises';

/**
 * The two calls a durable append makes; tests inject failing or hanging
 * ones to play a full disk or a dead device.
 */
export interface AppendFs {
  write(handle: FileHandle, data: string): Promise<void>;
  sync(handle: FileHandle): Promise<void>;
}

export const realAppendFs: AppendFs = {
  async write(handle, data) {
    // A nearly full disk takes part of a write and reports the short count
    // without an error; the next call then fails with ENOSPC. One write()
    // call alone would take the torn line for a success.
    const bytes = Buffer.from(data);
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  },
  async sync(handle) {
    await handle.datasync();
  },
};

export type AppendOutcome =
  | { ok: true; bytes: number }
  /** `repaired`: the file was cut back to where it was, so later appends may follow. */
  | { ok: false; error: unknown; repaired: boolean };

/**
 * Appends `data` to a file opened in append mode and fdatasyncs it. A
 * failed write is cut back to `sizeBefore`, so that a later append never
 * follows a torn line and nothing the caller was told failed can reappear
 * after a restart. Never throws.
 */
export async function appendDurably(
  fs: AppendFs,
  handle: FileHandle | undefined,
  data: string,
  sizeBefore: number,
): Promise<AppendOutcome> {
  try {
    if (!handle) throw new Error('the file is not open');
    await fs.write(handle, data);
    await fs.sync(handle);
    return { ok: true, bytes: Buffer.byteLength(data) };
  } catch (error) {
    const repaired =
      (await handle?.truncate(sizeBefore).then(
        () => true,
        () => false,
      )) ?? false;
    return { ok: false, error, repaired };
  }
}

/**
 * Group commit: items that arrive while a write is in flight are gathered
 * into the next write, so one fdatasync covers many of them. The task
 * journal and the audit trail both write through one of these.
 *
 * An item nobody waits for (`urgent: false`) may linger up to `lingerMs`
 * for company, so a stream of them costs one write per linger instead of
 * one per item; an urgent item flushes whatever lingers with it.
 */
export class GroupCommit<T> {
  readonly #write: (batch: T[]) => Promise<void>;
  readonly #lingerMs: number;
  #pending: T[] = [];
  #flushing: Promise<void> | undefined;
  #lingering: NodeJS.Timeout | undefined;

  /** @param write writes one batch; it must settle every item itself and never throw. */
  constructor(write: (batch: T[]) => Promise<void>, options: { lingerMs?: number } = {}) {
    this.#write = write;
    this.#lingerMs = options.lingerMs ?? 0;
  }

  push(item: T, urgent = true): void {
    this.#pending.push(item);
    if (this.#flushing) return; // the running loop takes it next
    if (urgent || this.#lingerMs === 0) this.#flushNow();
    else this.#lingering ??= setTimeout(() => this.#flushNow(), this.#lingerMs);
  }

  #flushNow(): void {
    clearTimeout(this.#lingering);
    this.#lingering = undefined;
    this.#flushing ??= this.#loop();
  }

  /** Removes and returns what waits for the next write (to fail it at once). */
  drain(): T[] {
    const items = this.#pending;
    this.#pending = [];
    return items;
  }

  /** Resolves when everything pushed so far has been written (or has failed). */
  async flushed(): Promise<void> {
    if (this.#lingering) this.#flushNow();
    while (this.#flushing) await this.#flushing.catch(() => {});
  }

  async #loop(): Promise<void> {
    // Yield once so that pushes from the same event-loop turn share a write.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        await this.#write(batch);
      }
    } finally {
      this.#flushing = undefined;
    }
  }
}
