import type { Adapter } from 'lowdb';
import { Low } from 'lowdb';
import { HiveError } from '../../protocol/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../core/atomic-file.ts';

/**
 * lowdb adapter whose writes survive a power cut: lowdb's own JSONFile
 * renames a temp file but never fsyncs it, so a crash can leave an empty
 * file behind the rename. This one syncs the file and its folder.
 */
export class DurableJsonFile<T> implements Adapter<T> {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<T | null> {
    const text = await readFileIfExists(this.path);
    if (text === undefined) return null;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new HiveError(
        'HIVE_STORE_CORRUPT',
        `${this.path} is not valid JSON: ${String(error)}`,
        {
          path: this.path,
        },
      );
    }
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(data));
  }
}

/**
 * A small lowdb document (registry, metadata) whose writes are coalesced:
 * callers mutate `data` and call `save()`; concurrent saves share one write
 * that carries the latest state.
 */
export class JsonDocument<T> {
  readonly #db: Low<T>;
  readonly path: string;
  #writing: Promise<void> | undefined;
  #inWrite: Promise<void> | undefined;
  #dirty = false;
  /** Set while someone else owns the file (a restore installs it): saves wait. */
  #held: Promise<void> | undefined;

  constructor(path: string, defaults: T) {
    this.path = path;
    this.#db = new Low<T>(new DurableJsonFile<T>(path), defaults);
  }

  /**
   * Defers every save until the returned function is called, and resolves
   * once no write is in flight: the caller may then replace the file. The
   * saves asked for meanwhile are made (with the data as it is then) on
   * release.
   */
  async hold(): Promise<() => Promise<void>> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = released;
    await this.#inWrite?.catch(() => {});
    return async () => {
      this.#held = undefined;
      release();
      if (this.#dirty) await this.save();
    };
  }

  get data(): T {
    return this.#db.data;
  }

  set data(value: T) {
    this.#db.data = value;
  }

  async load(): Promise<void> {
    await this.#db.read();
  }

  /** Persists the current data; resolves once a write that includes it is durable. */
  save(): Promise<void> {
    this.#dirty = true;
    if (!this.#writing) this.#writing = this.#drain();
    return this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      for (;;) {
        while (this.#held) await this.#held;
        if (!this.#dirty) break;
        this.#dirty = false;
        this.#inWrite = this.#db.write();
        await this.#inWrite;
      }
    } finally {
      this.#writing = undefined;
      this.#inWrite = undefined;
    }
  }
}
