import { dirname } from 'node:path';
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
 * Bursts are debounced into one call. chokidar passes on only the first
 * change event of a path within 50 ms, so the quiet time must be at least
 * that long, or the last save of a burst could go unseen (the schema keeps
 * `config.debounceMs` ≥ 50).
 */
export class ConfigWatcher {
  readonly #location: ConfigLocation;
  readonly #onChange: (paths: string[]) => void;
  readonly #log: Logger;
  #debounceMs: number;
  #watcher: FSWatcher | undefined;
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

  get watching(): boolean {
    return this.#watcher !== undefined;
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
    watcher.on('error', (error) => this.#log.warn(`config watch: ${String(error)}`));
    this.#watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
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
    await watcher?.close();
  }
}
