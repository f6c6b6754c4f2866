import { dirname, join } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from '../logs/log-hub.ts';
import { type ConfigLocation, isSourcePath } from './sources.ts';

/**
 * Watches the config folder, not the file: editors save by writing a temp
 * file and renaming it over the original, vim renames the original away
 * first, and a delete + re-create replaces the inode; a watch on the file
 * alone loses track after any of these. chokidar's `atomic` folds an unlink
 * followed by an add within 100 ms into one change.
 *
 * Bursts are debounced into one call. chokidar's events alone cannot time
 * the debounce: it passes on one change event per path per 50 ms and drops
 * raw events within 5 ms of the last one (and writes in the same jiffy look
 * like no change), so during a burst it can be silent for longer than the
 * quiet time while writes go on. Its raw events see every write: they
 * extend a pending debounce (they do not start one, so an unlink that
 * chokidar's `atomic` would fold into a change does not trigger a load of
 * a missing file). The quiet time is at least chokidar's 50 ms window
 * (`config.debounceMs` ≥ 50), so every throttle has expired when the load
 * reads the files and the next write is seen.
 */
export class ConfigWatcher {
  readonly #location: ConfigLocation;
  readonly #onChange: (paths: string[]) => void;
  readonly #log: Logger;
  #debounceMs: number;
  #watcher: FSWatcher | undefined;
  /** Set once the initial scan is done: before that, a change may go unseen. */
  #ready = false;
  #timer: NodeJS.Timeout | undefined;
  #pending = new Set<string>();

  constructor(
    location: ConfigLocation,
    options: { debounceMs: number },
    deps: { onChange: (paths: string[]) => void; log: Logger },
  ) {
    this.#location = location;
    this.#debounceMs = options.debounceMs;
    this.#onChange = deps.onChange;
    this.#log = deps.log;
  }

  /** A change was seen and its load is still to come. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  get started(): boolean {
    return this.#watcher !== undefined;
  }

  /** True once changes are seen (the initial scan is done). */
  get watching(): boolean {
    return this.#ready;
  }

  /** Resolves once the initial scan is done: changes from then on are seen. */
  async start(): Promise<void> {
    if (this.#watcher) return;
    const folder = dirname(this.#location.mainFile);
    const watcher = watch(folder, {
      ignoreInitial: true,
      atomic: true,
      depth: 1,
      // Prune everything else in the folder (with --config /etc/hive.yaml it is /etc).
      ignored: (path) => !this.#relevant(path) && path !== folder,
    });
    watcher.on('all', (_event, path) => {
      if (this.#relevant(path)) this.#schedule(path);
    });
    watcher.on('raw', (_event, name, details) => {
      if (this.#timer === undefined) return;
      // A folder's watcher names the entry; a file's watcher names itself.
      const watched = (details as { watchedPath?: string } | undefined)?.watchedPath ?? '';
      const path = this.#relevant(watched) ? watched : join(watched, String(name));
      if (this.#relevant(path)) this.#schedule(path);
    });
    watcher.on('error', (error) => this.#log.warn(`config watch: ${String(error)}`));
    this.#watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    // Closed while the scan ran: stay closed.
    this.#ready = this.#watcher === watcher;
  }

  #relevant(path: string): boolean {
    return path === this.#location.confDir || isSourcePath(this.#location, path);
  }

  #schedule(path: string): void {
    this.#pending.add(path);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const paths = [...this.#pending];
      this.#pending.clear();
      this.#onChange(paths);
    }, this.#debounceMs);
  }

  setDebounce(ms: number): void {
    this.#debounceMs = ms;
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    this.#ready = false;
    await watcher?.close();
  }
}
