import { randomBytes } from 'node:crypto';
import { HiveError } from '../../protocol/errors.ts';
import type { BackupVerifyView } from '../../protocol/views.ts';
import type { Actor } from '../../protocol/wire.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import { Mutex } from '../core/mutex.ts';
import type { Interceptor } from '../ipc/router.ts';
import type { Logger } from '../logs/log-hub.ts';
import { captureState, currentRevision, type StateSources } from './capture.ts';
import type { BackupCatalog, LoadedBackup } from './catalog.ts';
import { type RecoveryEvents, summarize } from './events.ts';
import type { StateInstaller } from './installer.ts';
import {
  type BackupKind,
  type BackupSource,
  groupOf,
  type IndexEntry,
  PARTS_OF,
  sameRevision,
} from './manifest.ts';
import { planPrune } from './prune.ts';
import type { StartupRecovery } from './repair.ts';
import {
  describeOutcome,
  type LiveParts,
  LiveRestore,
  loadForRestore,
  parseForRestore,
  RestoreCommittedError,
  type RestoreOutcome,
  restorePlan,
} from './restore.ts';
import type { RetentionDecision } from './retention.ts';
import { BackupSchedule } from './schedule.ts';
import type { StartReport } from './shutdown-marker.ts';
import { trialRestore } from './verify.ts';

export type BackupConfig = Config['backup'];

/** Commands that queue behind a restore on the mutex instead of being refused. */
const OWN_COMMANDS = /^(backup\.|restore-point\.|recovery\.|daemon\.stop$)/;
export type Progress = (message: string) => void;

export interface RecoveryDeps {
  clock: Clock;
  log: Logger;
  catalog: BackupCatalog;
  installer: StateInstaller;
  startup: StartupRecovery;
  start: StartReport;
  /** Absent in safe mode: the state did not load. */
  live?: LiveParts;
  /** Where verify restores backups on trial. */
  scratchDir: string;
  /** Safe mode only: a restore repaired the state; hived should load it now. */
  onSafeModeRestored?: () => void;
  /** A restore failed past its commit point: hived must stop at once, without writing. */
  onFatal: (reason: string) => void;
}

export interface CreateRequest {
  kind: BackupKind;
  source: BackupSource;
  tag?: string;
  restorePoint?: { name: string; description: string };
  actor?: Actor;
}

export type VerifyResult = BackupVerifyView;

/**
 * The recovery part: backups (manual, scheduled, before restores and
 * promotes), restore points, verification, retention, restores, and the
 * account of what happened at start. One mutex serializes every backup,
 * verify, restore and prune, so none of them races another.
 */
export class RecoveryService extends TypedEmitter<RecoveryEvents> implements ConfigApplier {
  readonly #deps: RecoveryDeps;
  readonly #mutex = new Mutex();
  readonly #restorer: LiveRestore | undefined;
  #config: BackupConfig;
  readonly #schedule: BackupSchedule;
  #restoring = false;
  #closed = false;
  /** Why scheduled backups are paused (a degradation mode), or undefined. */
  #schedulePaused: string | undefined;
  readonly #startedAt: number;
  #lastRestore: { at: string; backupId: string; ok: boolean; detail: string } | undefined;

  constructor(options: { config: BackupConfig }, deps: RecoveryDeps) {
    super();
    this.#config = options.config;
    this.#deps = deps;
    this.#startedAt = deps.clock.now();
    this.#restorer =
      deps.live &&
      new LiveRestore({ live: deps.live, installer: deps.installer, now: () => deps.clock.now() });
    this.#schedule = new BackupSchedule({
      clock: deps.clock,
      run: () => this.#scheduled(),
      timing: () =>
        this.#closed || !deps.live
          ? undefined
          : {
              intervalMs: this.#config.intervalMs,
              lastBackupAt: this.list({ kind: 'full' }).at(-1)?.createdAtMs,
            },
      onError: (message) => deps.log.error(`scheduled backup failed: ${message}`),
    });
  }

  get safeMode(): boolean {
    return this.#deps.live === undefined;
  }

  /** Announces the repairs made at start and arms the backup schedule. */
  start(): void {
    for (const repair of this.#deps.startup.repairs) this.#announce('repair', repair);
    this.#schedule.arm();
  }

  readonly configPart = 'recovery';
  /**
   * Applied live: the schedule and retention follow at once; repairOnStart
   * is read at the next start, which is when it matters. `backup.dir` needs
   * a restart (another folder is another catalog).
   */
  readonly configKeys = ['backup.intervalMs', 'backup.retention', 'backup.repairOnStart'];

  prepareConfig(next: { config: Config }) {
    return () => {
      this.setConfig(next.config.backup);
      return undefined;
    };
  }

  /** Applies new settings: the schedule and retention follow at once. */
  setConfig(config: BackupConfig): void {
    this.#config = config;
    this.#schedule.arm();
  }

  /**
   * Pauses the scheduled backups (DEGRADED: optional work waits) or, with
   * undefined, resumes them; a backup that came due meanwhile runs within a
   * second of the resume.
   */
  pauseSchedule(reason: string | undefined): void {
    if (reason === this.#schedulePaused) return;
    this.#schedulePaused = reason;
    if (reason === undefined) this.#schedule.arm();
  }

  /**
   * Seconds the automatic backup is past due: the newest full backup is
   * older than the interval and the state changed since (an unchanged
   * state needs none). 0 when on time or when backups are off.
   */
  overdueSeconds(): number {
    const live = this.#deps.live;
    const interval = this.#config.intervalMs;
    if (!live || interval === 0) return 0;
    const newest = this.list({ kind: 'full' }).at(-1);
    const late = this.#deps.clock.now() - (newest?.createdAtMs ?? this.#startedAt) - interval;
    if (late <= 0) return 0;
    if (newest && sameRevision(newest.revision, currentRevision(sources(live)))) return 0;
    return late / 1000;
  }

  /** Stops the schedule and waits for a running operation to finish. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#schedule.stop();
    await this.#mutex.idle();
  }

  /**
   * Refuses state-changing commands while a restore swaps the state (they
   * would be refused halfway by the suspended queue, or overwritten).
   */
  readonly guard: Interceptor = async (command, _args, _ctx, next) => {
    if (this.#restoring && command.mutating && !OWN_COMMANDS.test(command.name)) {
      throw new HiveError(
        'HIVE_RECOVERY_RESTORING',
        `a restore is replacing the state; ${command.name} is refused, retry in a moment`,
      );
    }
    return next();
  };

  /** Takes a backup now. */
  create(request: CreateRequest, progress?: Progress): Promise<IndexEntry> {
    return this.#mutex.run(`backup ${request.kind}`, () => this.#createNow(request, progress));
  }

  /** For the deployment part: a full backup right before a promote. */
  beforePromote(deployment: string, actor?: Actor): Promise<IndexEntry> {
    return this.create({
      kind: 'full',
      source: 'pre-promote',
      tag: `before promote of ${deployment}`,
      ...(actor ? { actor } : {}),
    });
  }

  async #createNow(request: CreateRequest, progress?: Progress): Promise<IndexEntry> {
    const live = this.#requireLive('take a backup');
    const started = performance.now();
    progress?.(`capturing ${PARTS_OF[request.kind].join(', ')}`);
    const captured = captureState(sources(live), PARTS_OF[request.kind]);
    progress?.(`writing ${captured.files.reduce((n, f) => n + f.data.length, 0)} bytes`);
    const entry = await this.#deps.catalog.write(captured, request);
    const durationMs = Math.round(performance.now() - started);
    this.#deps.log.info(
      `backup ${entry.id} (${entry.kind}, ${entry.source}) written: ${entry.sizeBytes} bytes in ${durationMs} ms`,
      { backup: entry.id },
    );
    this.#announce('backup.created', {
      at: this.#now(),
      ...(request.actor ? { actor: request.actor } : {}),
      backup: summarize(entry),
      durationMs,
    });
    return entry;
  }

  list(filter: { kind?: BackupKind; restorePoints?: boolean } = {}): readonly IndexEntry[] {
    return this.#deps.catalog
      .entries()
      .filter((e) => !filter.kind || e.kind === filter.kind)
      .filter(
        (e) => filter.restorePoints === undefined || !!e.restorePoint === filter.restorePoints,
      );
  }

  /**
   * Picks up backup folders changed behind hived's back (a lost index.json,
   * a backup copied in). Skipped while an operation runs: it keeps the index
   * itself, and a listing must not wait behind a long verify.
   */
  async refreshIndex(): Promise<void> {
    if (this.#mutex.current) return;
    await this.#mutex.run('index check', () => this.#deps.catalog.ensureIndex());
  }

  get(idOrName: string): IndexEntry {
    return this.#deps.catalog.get(idOrName);
  }

  /** Checksums, then a trial restore into a scratch folder and the invariants. */
  verify(ids: readonly string[], actor?: Actor, progress?: Progress): Promise<VerifyResult[]> {
    return this.#mutex.run('verify', async () => {
      const results: VerifyResult[] = [];
      for (const id of ids) {
        // A stop must not wait for a long --all run: the rest is left for later.
        if (this.#closed) break;
        results.push(await this.#verifyOne(id, actor, progress));
      }
      return results;
    });
  }

  async #verifyOne(id: string, actor?: Actor, progress?: Progress): Promise<VerifyResult> {
    const t0 = performance.now();
    const loaded = await this.#deps.catalog.load(id, progress);
    const t1 = performance.now();
    const problems = loaded.problems.map((p) => `${p.file}: ${p.problem}`);
    if (problems.length === 0) {
      progress?.(`restoring ${id} into a scratch folder and checking invariants`);
      problems.push(...(await trialRestore(loaded, this.#deps.scratchDir)));
    }
    const result: VerifyResult = {
      id: loaded.entry.id,
      ok: problems.length === 0,
      problems,
      bytes: loaded.bytes,
      checksumMs: Math.round(t1 - t0),
      trialMs: Math.round(performance.now() - t1),
    };
    await this.#deps.catalog.recordCheck(result.id, {
      at: this.#now(),
      ok: result.ok,
      problems,
    });
    this.#announce('backup.verified', {
      at: this.#now(),
      ...(actor ? { actor } : {}),
      backupId: result.id,
      ok: result.ok,
      problems,
      bytes: result.bytes,
    });
    if (!result.ok)
      this.#deps.log.warn(`backup ${result.id} failed verification: ${problems.join('; ')}`);
    return result;
  }

  /** What a restore of this backup would do, without doing it. */
  planRestore(id: string): Promise<Record<string, unknown>> {
    return this.#mutex.run('restore plan', async () => {
      const loaded = await loadForRestore(this.#deps.catalog, id);
      const entry = loaded.entry;
      const plan: Record<string, unknown> = { backup: summarize(entry), safeMode: this.safeMode };
      if (!this.#deps.live) {
        plan.parts = this.#deps.startup.safeMode?.parts ?? [];
        plan.effect =
          'safe mode: the damaged parts are rebuilt from this backup plus every readable journal record after it; then hived loads the state and leaves safe mode';
        return plan;
      }
      return { ...plan, ...restorePlan(parseForRestore(loaded), this.#deps.live) };
    });
  }

  /** Restores a backup (see restore.ts for the protocol); a full backup is taken first. */
  restore(id: string, actor?: Actor, progress?: Progress): Promise<Record<string, unknown>> {
    return this.#mutex.run('restore', async () => {
      const started = performance.now();
      const loaded = await loadForRestore(this.#deps.catalog, id, progress);
      const entry = loaded.entry;
      const restoreId = `r-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
      const base = { restoreId, backup: summarize(entry), ...(actor ? { actor } : {}) };
      const live = this.#deps.live;
      if (!live) return this.#restoreInSafeMode(loaded, base, started);
      progress?.('taking a full backup of the current state first');
      const safetyBackup = this.#safetyBackup(live, entry.id, actor);
      // Both large writes (the safety backup and the staged snapshot) run
      // while the backup is parsed and checked.
      const restorer = this.#restorer as LiveRestore;
      const staged = restorer.stage(loaded);
      let parsed: ReturnType<typeof parseForRestore>;
      let safety: IndexEntry;
      try {
        parsed = parseForRestore(loaded);
        safety = await safetyBackup.written;
      } catch (error) {
        await staged.discard();
        throw error;
      }
      const announced = {
        ...base,
        safetyBackupId: safety.id,
        safetyBackupReused: safetyBackup.reused,
      };
      this.#announce('restore.started', { at: this.#now(), ...announced, mode: 'live' });
      this.#deps.log.warn(`restoring backup ${entry.id} (safety backup ${safety.id})`, base);
      progress?.(`restoring ${entry.id}`);
      this.#restoring = true;
      let outcome: RestoreOutcome;
      try {
        outcome = await restorer.run(parsed, staged, `restore of ${entry.id}`);
      } catch (error) {
        this.#finishFailed(announced, started, error);
        if (error instanceof RestoreCommittedError) this.#deps.onFatal(error.message);
        throw error;
      } finally {
        this.#restoring = false;
      }
      const durationMs = Math.round(performance.now() - started);
      this.#announce('restore.finished', {
        at: this.#now(),
        ...announced,
        ok: true,
        durationMs,
        outcome,
      });
      this.#lastRestore = {
        at: this.#now(),
        backupId: entry.id,
        ok: true,
        detail: describeOutcome(outcome),
      };
      this.#deps.log.warn(
        `restored backup ${entry.id} in ${durationMs} ms: ${describeOutcome(outcome)}`,
        {
          restore: { ...announced, outcome },
        },
      );
      return { ...announced, durationMs, outcome };
    });
  }

  /**
   * The backup a restore takes first, captured now (synchronously). An
   * unchanged state reuses the newest full backup instead of writing the
   * same bytes again.
   */
  #safetyBackup(
    live: LiveParts,
    restoring: string,
    actor?: Actor,
  ): { reused: boolean; written: Promise<IndexEntry> } {
    const newest = this.list({ kind: 'full' }).at(-1);
    if (
      newest &&
      newest.check?.ok !== false &&
      sameRevision(newest.revision, currentRevision(sources(live)))
    ) {
      return { reused: true, written: Promise.resolve(newest) };
    }
    const written = this.#createNow({
      kind: 'full',
      source: 'pre-restore',
      tag: `before restore of ${restoring}`,
      ...(actor ? { actor } : {}),
    });
    written.catch(() => {}); // awaited by restore(); never unhandled if the parse fails first
    return { reused: false, written };
  }

  async #restoreInSafeMode(
    loaded: LoadedBackup,
    base: { restoreId: string; backup: ReturnType<typeof summarize>; actor?: Actor },
    started: number,
  ): Promise<Record<string, unknown>> {
    this.#announce('restore.started', { at: this.#now(), ...base, mode: 'safe-mode' });
    try {
      await this.#deps.startup.repairFrom(loaded.entry.id);
    } catch (error) {
      this.#finishFailed(base, started, error);
      throw error;
    }
    const durationMs = Math.round(performance.now() - started);
    this.#announce('restore.finished', { at: this.#now(), ...base, ok: true, durationMs });
    this.#deps.log.warn(`safe mode: repaired from backup ${loaded.entry.id}; loading the state`);
    setImmediate(() => this.#deps.onSafeModeRestored?.());
    return { ...base, durationMs, leavingSafeMode: true };
  }

  #finishFailed(
    base: { restoreId: string; backup: ReturnType<typeof summarize>; actor?: Actor },
    started: number,
    error: unknown,
  ): void {
    const wire =
      error instanceof HiveError
        ? { code: error.code, message: error.message }
        : { code: 'HIVE_DAEMON_INTERNAL', message: String((error as Error)?.message ?? error) };
    this.#announce('restore.finished', {
      at: this.#now(),
      ...base,
      ok: false,
      durationMs: Math.round(performance.now() - started),
      error: wire,
    });
    this.#lastRestore = {
      at: this.#now(),
      backupId: base.backup.id,
      ok: false,
      detail: wire.message,
    };
    this.#deps.log.error(`restore of ${base.backup.id} failed: ${wire.message}`);
  }

  /** Applies retention; with dryRun, only says what would go. */
  prune(options: { dryRun: boolean; actor?: Actor }): Promise<{
    dryRun: boolean;
    removed: RetentionDecision[];
    kept: RetentionDecision[];
  }> {
    return this.#mutex.run('prune', () => this.#pruneNow(options));
  }

  async #pruneNow(options: { dryRun: boolean; actor?: Actor }) {
    const { removed, kept } = await planPrune(
      this.#deps.catalog,
      this.#config.retention,
      this.#deps.clock,
    );
    if (!options.dryRun && removed.length > 0) {
      await this.#deps.catalog.remove(removed.map((d) => d.id));
      this.#deps.log.info(`pruned ${removed.length} backups`, {
        removed: removed.map((d) => d.id),
      });
      this.#announce('backup.pruned', {
        at: this.#now(),
        ...(options.actor ? { actor: options.actor } : {}),
        removed: removed.map((d) => ({
          id: d.id,
          kind: d.group,
          createdAt: new Date(d.createdAtMs).toISOString(),
          reasons: d.reasons,
        })),
        kept: kept.length,
      });
    }
    return { dryRun: options.dryRun, removed, kept };
  }

  /** The scheduled run: a full backup unless nothing changed, then retention. */
  #scheduled(): Promise<string> {
    return this.#mutex.run('scheduled backup', async () => {
      if (this.#schedulePaused) return `skipped: paused while ${this.#schedulePaused}`;
      const live = this.#requireLive('take a backup');
      const newest = this.list({ kind: 'full' }).at(-1);
      if (newest && sameRevision(newest.revision, currentRevision(sources(live)))) {
        return `skipped: nothing changed since ${newest.id}`;
      }
      const entry = await this.#createNow({ kind: 'full', source: 'schedule' });
      const pruned = await this.#pruneNow({ dryRun: false });
      return `created ${entry.id}${pruned.removed.length > 0 ? `; pruned ${pruned.removed.length}` : ''}`;
    });
  }

  /** `hive recovery status`: last start, state files, repairs, backups, schedule, problems. */
  status(): Record<string, unknown> {
    const { startup, start, catalog } = this.#deps;
    const entries = catalog.entries();
    const newest = entries.at(-1);
    const problems: string[] = [];
    if (startup.safeMode) problems.push(`safe mode: ${startup.safeMode.reason}`);
    for (const repair of startup.repairs)
      if (repair.lost) problems.push(`repair of ${repair.file} at start: lost ${repair.lost}`);
    const newestFull = entries.filter((e) => e.kind === 'full').at(-1);
    if (newestFull?.check?.ok === false)
      problems.push(`the newest full backup ${newestFull.id} failed verification`);
    const schedule = this.#schedule.view;
    if (schedule.lastError) problems.push(`scheduled backup failed: ${schedule.lastError}`);
    if (catalog.unreadable.length > 0)
      problems.push(`backup folders without a readable manifest: ${catalog.unreadable.join(', ')}`);
    const bytes = entries.reduce((n, e) => n + e.sizeBytes, 0);
    const byGroup: Record<string, number> = {};
    for (const e of entries) byGroup[groupOf(e)] = (byGroup[groupOf(e)] ?? 0) + 1;
    return {
      mode: startup.safeMode ? 'safe' : 'normal',
      ...(startup.safeMode ? { safeMode: startup.safeMode } : {}),
      lastStart: start.lastStart,
      lastStartDetail: start.detail,
      stateFiles: startup.files,
      repairs: startup.repairs,
      backups: { dir: catalog.dir, count: entries.length, bytes, byGroup },
      lastBackup: newest ? summarize(newest) : null,
      schedule: { ...schedule, ...(this.#schedulePaused ? { paused: this.#schedulePaused } : {}) },
      operation: this.#mutex.current ?? null,
      ...(this.#lastRestore ? { lastRestore: this.#lastRestore } : {}),
      problems,
    };
  }

  /** Emits an event and writes it to disaster-recovery.jsonl, where the history lives. */
  #announce<K extends keyof RecoveryEvents>(event: K, payload: RecoveryEvents[K]): void {
    this.#deps.log.event(event, { ...payload });
    this.emit(event, payload);
  }

  #requireLive(what: string): LiveParts {
    if (this.#deps.live) return this.#deps.live;
    throw new HiveError(
      'HIVE_RECOVERY_SAFE_MODE',
      `cannot ${what} in safe mode: the state did not load (${this.#deps.startup.safeMode?.reason ?? 'unknown'})`,
    );
  }

  #now(): string {
    return new Date(this.#deps.clock.now()).toISOString();
  }
}

function sources(live: LiveParts): StateSources {
  return { queue: live.queue, registry: live.registry };
}
