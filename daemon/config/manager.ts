import type {
  ConfigChangeRecord,
  ConfigShow,
  ConfigStatus,
  ConfigTrigger,
  ConfigValue,
  Origin,
} from '../../protocol/config.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Actor } from '../../protocol/wire.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import { isPlainObject } from '../core/values.ts';
import type { Logger } from '../logs/log-hub.ts';
import { type ConfigChange, diffConfigs, Redactor } from './diff.ts';
import { acceptedRecord, rejectedRecord, summary, TRIGGER_TEXT } from './records.ts';
import { type Config, ConfigSchema } from './schema.ts';
import {
  buildSnapshot,
  type ConfigLocation,
  type ConfigSnapshot,
  deepFreeze,
  readSources,
} from './sources.ts';
import { ConfigWatcher } from './watcher.ts';

export type { ConfigChangeRecord, ConfigTrigger };

/** Applies the prepared change; returns notes for the report (what it did, what is under way). */
export type ConfigCommit = () => readonly string[] | undefined;

/**
 * How a part takes its slice of a new config. Every part prepares before any
 * part commits, so a part that refuses (a bot command that does not exist)
 * rejects the whole reload and nothing changes.
 */
export interface ConfigApplier {
  /** The part's name, for reports. */
  readonly configPart: string;
  /**
   * Key paths (or their prefixes) this part applies live. A changed key that
   * no part claims is reported as needing a restart, never silently ignored.
   */
  readonly configKeys: readonly string[];
  /** Checks `next` beyond the schema (throw HIVE_CONFIG_INVALID to refuse) and returns the commit. */
  prepareConfig(next: ConfigSnapshot, changes: readonly ConfigChange[]): ConfigCommit;
}

/** An applier for keys that parts read at the moment they use them (e.g. the drain timeout). */
export function readAtUse(part: string, keys: readonly string[]): ConfigApplier {
  return { configPart: part, configKeys: keys, prepareConfig: () => () => undefined };
}

export interface ConfigEvents {
  applied: ConfigChangeRecord;
  rejected: ConfigChangeRecord;
}

const DEFAULT_ORIGIN: Origin = { source: 'default' };

/**
 * Owns the running config: a frozen snapshot that is replaced as a whole.
 * A load goes read → validate → diff → prepare every part → commit every
 * part; a file that fails anywhere before the commit is rejected whole and
 * the running config stays. Loads run one at a time.
 */
export class ConfigManager extends TypedEmitter<ConfigEvents> {
  readonly #location: ConfigLocation;
  readonly #explicit: boolean;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #record: Logger;
  readonly #appliers: ConfigApplier[] = [];
  readonly #watcher: ConfigWatcher;
  #snapshot: ConfigSnapshot;
  #redactor: Redactor;
  #pending: ConfigChange[] = [];
  #loadedAt: number;
  #loadedBy: ConfigTrigger = 'start';
  #lastAttempt: ConfigStatus['lastAttempt'];
  #lastError: ConfigStatus['lastError'] = null;
  #counts: ConfigStatus['counts'] = { applied: 0, unchanged: 0, rejected: 0 };
  #queue: Promise<unknown> = Promise.resolve();
  /** Loads queued or running. */
  #loads = 0;
  /** What the last load read, to notice a change no file event reported. */
  #fingerprint: string | undefined;
  #verifyTimer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param initial the snapshot the daemon started with (read by main before
   *   the parts exist; an invalid file there stops the start).
   * @param options.explicit the main file was named with --config: its
   *   absence is an error even before it was first read.
   */
  constructor(
    location: ConfigLocation,
    options: { explicit: boolean },
    initial: ConfigSnapshot,
    deps: { clock: Clock; log: Logger; record: Logger },
  ) {
    super();
    this.#location = location;
    this.#explicit = options.explicit;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#record = deps.record;
    this.#snapshot = initial;
    this.#fingerprint = initial.fingerprint;
    this.#redactor = new Redactor(initial.config.config.redact);
    this.#loadedAt = this.#clock.now();
    this.#lastAttempt = { at: this.#loadedAt, trigger: 'start', outcome: 'applied' };
    this.#watcher = new ConfigWatcher(
      location,
      { debounceMs: initial.config.config.debounceMs },
      { onChange: () => void this.#watchLoad(), log: this.#log },
    );
    this.register({
      configPart: 'config',
      configKeys: ['config'],
      prepareConfig: (next) => () => this.#applyOwn(next.config),
    });
  }

  /** The running config (frozen). */
  get current(): ConfigSnapshot {
    return this.#snapshot;
  }

  get config(): Config {
    return this.#snapshot.config;
  }

  register(applier: ConfigApplier): void {
    this.#appliers.push(applier);
  }

  /** Writes the start line (what the config sets beyond the defaults) and starts watching. */
  async start(): Promise<void> {
    const changes = diffConfigs(ConfigSchema.parse({}), this.#snapshot.config);
    this.#finish(
      acceptedRecord({
        trigger: 'start',
        at: this.#clock.now(),
        snapshot: this.#snapshot,
        diff: changes,
        held: [],
        notes: [],
        durationMs: 0,
        redactor: this.#redactor,
      }),
    );
    if (this.#snapshot.config.config.watch) await this.#watcher.start();
  }

  /** Loads the files again and applies them; resolves with what happened. Loads queue up. */
  async reload(trigger: ConfigTrigger, actor?: Actor): Promise<ConfigChangeRecord> {
    const record = await this.#enqueue(() => this.#reloadNow(trigger, actor, false));
    return record as ConfigChangeRecord;
  }

  /**
   * A load for file events. Events can repeat after the load they caused
   * (chokidar reports some late), so a read whose files are exactly what
   * the last load read is no load at all: no line, no event.
   */
  #watchLoad(): Promise<ConfigChangeRecord | undefined> {
    return this.#enqueue(() => this.#reloadNow('watch', undefined, true))
      .catch(() => undefined) // only when stopping: nothing to report
      .finally(() => this.#scheduleVerify());
  }

  #enqueue<T>(load: () => Promise<T>): Promise<T> {
    this.#loads += 1;
    const run = this.#queue.then(load).finally(() => {
      this.#loads -= 1;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * File events are hints, not a ledger (inotify can overflow, editors do odd
   * things): one quiet period after a load caused by a file change, the files
   * are read again, and a difference to what that load read is loaded too.
   */
  #scheduleVerify(): void {
    clearTimeout(this.#verifyTimer);
    this.#verifyTimer = setTimeout(() => {
      this.#verifyTimer = undefined;
      void this.#verify();
    }, this.#snapshot.config.config.debounceMs);
    this.#verifyTimer.unref();
  }

  async #verify(): Promise<void> {
    if (this.#closed || this.#loads > 0 || this.#watcher.pending || !this.#watcher.watching) return;
    try {
      const now = await readSources(this.#location, { mainRequired: this.#mainRequired });
      if (now.fingerprint === this.#fingerprint || this.#loads > 0 || this.#watcher.pending) return;
      this.#log.warn('config files changed without a file event; loading them');
      void this.#watchLoad();
    } catch (error) {
      this.#log.warn(`config check after a load failed: ${String(error)}`);
    }
  }

  get #mainRequired(): boolean {
    return this.#explicit || this.#snapshot.base === 'file';
  }

  async #reloadNow(
    trigger: ConfigTrigger,
    actor: Actor | undefined,
    onlyIfChanged: boolean,
  ): Promise<ConfigChangeRecord | undefined> {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    if (this.#closed) throw new HiveError('HIVE_DAEMON_STOPPING', 'hived is stopping');
    let next: ConfigSnapshot;
    try {
      const sources = await readSources(this.#location, { mainRequired: this.#mainRequired });
      if (onlyIfChanged && sources.fingerprint === this.#fingerprint) return undefined;
      this.#fingerprint = sources.fingerprint;
      next = buildSnapshot(this.#location, sources);
    } catch (error) {
      return this.#finish(this.#rejected(trigger, actor, error, elapsed()));
    }
    const changes = diffConfigs(this.#snapshot.config, next.config);
    const held = changes.filter((c) => !this.#claimed(c.key));
    const effective = held.length > 0 ? this.#holdBack(next, held) : next;
    const live = changes.filter((c) => this.#claimed(c.key));
    let commits: { part: string; commit: ConfigCommit }[];
    try {
      commits = this.#appliers.map((a) => ({
        part: a.configPart,
        commit: a.prepareConfig(effective, live),
      }));
    } catch (error) {
      return this.#finish(this.#rejected(trigger, actor, error, elapsed()));
    }
    const redactor = new Redactor([
      ...this.#snapshot.config.config.redact,
      ...effective.config.config.redact,
    ]);
    this.#snapshot = effective;
    this.#loadedAt = this.#clock.now();
    this.#loadedBy = trigger;
    this.#lastError = null;
    const heldBefore = new Set(this.#pending.map((c) => c.key));
    this.#pending = held;
    const notes = commits.flatMap(({ part, commit }) => this.#commit(part, commit));
    const record = acceptedRecord({
      trigger,
      ...(actor ? { actor } : {}),
      at: this.#clock.now(),
      snapshot: effective,
      diff: live,
      held,
      notes,
      durationMs: elapsed(),
      redactor,
    });
    // A restart-needed change seen again is not a new change.
    if (
      live.length === 0 &&
      held.length === heldBefore.size &&
      held.every((c) => heldBefore.has(c.key))
    )
      record.outcome = 'unchanged';
    return this.#finish(record);
  }

  #commit(part: string, commit: ConfigCommit): readonly string[] {
    try {
      return commit() ?? [];
    } catch (error) {
      // A part that fails after its prepare is a bug; the others still apply.
      this.#log.error(`config: ${part} failed to apply its settings: ${String(error)}`, {
        stack: (error as Error)?.stack,
      });
      return [`${part}: failed to apply: ${String((error as Error)?.message ?? error)}`];
    }
  }

  #claimed(key: string): boolean {
    return this.#appliers.some((a) =>
      a.configKeys.some((k) => key === k || key.startsWith(`${k}.`) || k.startsWith(`${key}.`)),
    );
  }

  /** The new snapshot with the running values kept for keys that need a restart. */
  #holdBack(next: ConfigSnapshot, held: readonly ConfigChange[]): ConfigSnapshot {
    const config = structuredClone(next.config) as Config;
    for (const change of held) setPath(config, change.key.split('.'), change.old);
    return { ...next, config: deepFreeze(config) };
  }

  #applyOwn(next: Config): readonly string[] | undefined {
    this.#redactor = new Redactor(next.config.redact);
    this.#watcher.setDebounce(next.config.debounceMs);
    const failed = (error: unknown) => this.#log.error(`config watch: ${String(error)}`);
    if (next.config.watch && !this.#watcher.started && !this.#closed) {
      this.#watcher.start().catch(failed);
      return ['config: watching the config files again'];
    }
    if (!next.config.watch && this.#watcher.started) {
      this.#watcher.close().catch(failed);
      return [
        'config: stopped watching the config files (reload with SIGHUP or hive config reload)',
      ];
    }
    return undefined;
  }

  #rejected(
    trigger: ConfigTrigger,
    actor: Actor | undefined,
    error: unknown,
    durationMs: number,
  ): ConfigChangeRecord {
    if (!(error instanceof HiveError)) this.#log.error(`config load failed: ${String(error)}`);
    return rejectedRecord({
      trigger,
      ...(actor ? { actor } : {}),
      at: this.#clock.now(),
      error,
      durationMs,
      fallbackFile: this.#location.mainFile,
    });
  }

  /** Logs the record (one line in config-changes.jsonl, a summary in hived.log) and emits it. */
  #finish(record: ConfigChangeRecord): ConfigChangeRecord {
    const at = Date.parse(record.time);
    this.#lastAttempt = { at, trigger: record.trigger, outcome: record.outcome };
    this.#counts[record.outcome] += 1;
    const { time: _time, ...fields } = record;
    this.#record.event(record.outcome, fields);
    if (record.outcome === 'rejected') {
      this.#lastError = { at, trigger: record.trigger, error: record.error };
      this.#log.error(
        `config rejected (${TRIGGER_TEXT[record.trigger]}); the running config stays: ${record.error?.message}`,
      );
      this.emit('rejected', record);
    } else {
      this.#log.info(summary(record), record.notes.length ? { notes: record.notes } : undefined);
      this.emit('applied', record);
    }
    return record;
  }

  status(): ConfigStatus {
    const s = this.#snapshot;
    return {
      mainFile: this.#location.mainFile,
      confDir: this.#location.confDir,
      base: s.base,
      baseDir: s.baseDir,
      files: s.files,
      checksum: s.checksum,
      loadedAt: this.#loadedAt,
      loadedBy: this.#loadedBy,
      lastAttempt: this.#lastAttempt,
      lastError: this.#lastError,
      pendingRestart: this.#pending.map((c) => this.#redactor.change(c)),
      watching: this.#watcher.watching,
      counts: { ...this.#counts },
    };
  }

  /** The effective config, redacted, with the origin of every value. */
  show(): ConfigShow {
    const s = this.#snapshot;
    return {
      base: s.base,
      files: s.files.map((f) => ({ path: f.path, role: f.role })),
      config: this.#redactor.value([], this.#snapshot.config),
      origins: this.#originsUnder([]),
      pendingRestart: this.#pending.map((c) => this.#redactor.change(c)),
    };
  }

  /** One value (or subtree) by dotted key path. */
  get(key: string): ConfigValue {
    const path = key === '' ? [] : key.split('.');
    let value: unknown = this.#snapshot.config;
    for (const segment of path) {
      if (!isPlainObject(value) || !Object.hasOwn(value, segment)) {
        throw new HiveError(
          'HIVE_CONFIG_KEY_NOT_FOUND',
          `no config key ${JSON.stringify(key)}; see hive config show, or CONFIG.md for every key`,
        );
      }
      value = value[segment];
    }
    const pendingRestart = this.#pending.some((c) => c.key === key || c.key.startsWith(`${key}.`));
    const out: ConfigValue = { key, value: this.#redactor.value(path, value) };
    if (isPlainObject(value)) out.origins = this.#originsUnder(path);
    else out.origin = this.#snapshot.origins.get(key) ?? DEFAULT_ORIGIN;
    if (pendingRestart) out.pendingRestart = true;
    return out;
  }

  #originsUnder(path: readonly string[]): Record<string, Origin> {
    const out: Record<string, Origin> = {};
    let root: unknown = this.#snapshot.config;
    for (const segment of path) root = (root as Record<string, unknown>)[segment];
    for (const leaf of leafKeys(root, path))
      out[leaf] = this.#snapshot.origins.get(leaf) ?? DEFAULT_ORIGIN;
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#verifyTimer);
    await this.#watcher.close();
    await this.#queue;
  }
}

/** Dotted paths of the leaves (scalars, arrays, empty objects) under a value. */
export function leafKeys(value: unknown, path: readonly string[]): string[] {
  if (isPlainObject(value) && Object.keys(value).length > 0)
    return Object.entries(value).flatMap(([k, v]) => leafKeys(v, [...path, k]));
  return value === undefined ? [] : [path.join('.')];
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    if (!isPlainObject(node[segment])) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  const last = path.at(-1) as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
}
