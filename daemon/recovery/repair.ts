import { copyFile, readdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { HiveError } from '../../protocol/errors.ts';
import { ensureDirectory, fsyncDirectory } from '../core/atomic-file.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../logs/log-hub.ts';
import { type OpenReport, readSnapshot, replacementFiles } from '../store/event-store.ts';
import { type JournalEntry, readJournal, segmentFileName } from '../store/journal.ts';
import type { JsonDocument } from '../store/json-document.ts';
import { type BackupCatalog, corrupt, describeProblems, type LoadedBackup } from './catalog.ts';
import type { StateInstaller } from './installer.ts';
import type { StatePart } from './manifest.ts';
import type { StartReport } from './shutdown-marker.ts';

/** How each state file loaded at start (`hive recovery status` lists them). */
export interface StateFileStatus {
  file: string;
  status: 'loaded' | 'missing' | 'repaired' | 'reset' | 'damaged';
  detail: string;
}

/** One repair made at start; self-contained, as the `repair` event carries it. */
export interface RepairReport {
  at: string;
  file: string;
  problem: string;
  action: string;
  backupId?: string;
  /** What could not be recovered, when something could not. */
  lost?: string;
  /** Where the damaged files were copied before anything was changed. */
  preservedIn?: string;
}

export interface SafeMode {
  since: string;
  reason: string;
  /** What the operator can do about it. */
  hint: string;
  /** The damaged parts a restore in safe mode repairs. */
  parts: StatePart[];
}

type QueueDamage = { problem: string; kind: 'snapshot' | 'journal' | 'missing' };

/** Anything that opens like the task queue (a factory builds a fresh one per attempt). */
export interface OpenableQueue {
  open(): Promise<OpenReport>;
  close(options: { compact: boolean }): Promise<void>;
  compact(): Promise<void>;
}

/**
 * Loads the state at start and repairs what it can: a state file that
 * cannot be parsed, a journal with corrupt lines or a missing segment, a
 * queue whose files are gone. The damaged files are copied aside first.
 * A queue is rebuilt as the newest good backup plus every readable journal
 * record after it, so a repair loses only what neither holds, and says
 * what. When nothing can repair it (or `repairOnStart` is off), the daemon
 * goes to safe mode instead of crash-looping.
 */
export class StartupRecovery {
  readonly files: StateFileStatus[] = [];
  readonly repairs: RepairReport[] = [];
  safeMode: SafeMode | undefined;
  /** Set when meta.json was unreadable and reset. */
  metaLost: string | undefined;
  readonly #dbDir: string;
  readonly #stateDir: string;
  readonly #repairOnStart: boolean;
  readonly #catalog: BackupCatalog;
  readonly #installer: StateInstaller;
  readonly #log: Logger;
  readonly #clock: Clock;
  #preserved: string | undefined;

  constructor(
    options: { dbDir: string; stateDir: string; repairOnStart: boolean },
    deps: { catalog: BackupCatalog; installer: StateInstaller; log: Logger; clock: Clock },
  ) {
    this.#dbDir = options.dbDir;
    this.#stateDir = options.stateDir;
    this.#repairOnStart = options.repairOnStart;
    this.#catalog = deps.catalog;
    this.#installer = deps.installer;
    this.#log = deps.log;
    this.#clock = deps.clock;
  }

  /** Loads a small document; an unparseable one is repaired from a backup, or reset. */
  async loadDocument<T>(
    doc: JsonDocument<T>,
    options: { part?: StatePart; reset: () => T; describe: (data: T) => string },
  ): Promise<void> {
    const file = this.#rel(doc.path);
    try {
      await doc.load();
      this.files.push({ file, status: 'loaded', detail: options.describe(doc.data) });
      return;
    } catch (error) {
      if (!(error instanceof HiveError && error.code === 'HIVE_STORE_CORRUPT')) throw error;
      const problem = `${file} cannot be parsed`;
      const preservedIn = await this.#preserve([doc.path]);
      if (options.part && !this.#repairOnStart) {
        this.#enterSafeMode(problem, options.part, 'backup.repairOnStart is off');
        this.files.push({ file, status: 'damaged', detail: problem });
        return;
      }
      const backup = options.part ? await this.#newestGood(options.part) : undefined;
      const data = options.part && backup?.files.get(options.part);
      if (backup && data) {
        await this.#installer.install(`repair of ${file}`, [
          { name: basename(doc.path), data: data.toString('utf8') },
        ]);
        await doc.load();
        this.#repaired(file, problem, `restored from backup ${backup.entry.id}`, {
          backupId: backup.entry.id,
          preservedIn,
        });
        return;
      }
      doc.data = options.reset();
      await doc.save();
      const action = options.part
        ? 'reset to empty: no good backup holds it'
        : 'reset: it only holds run bookkeeping';
      if (!options.part) this.metaLost = problem;
      this.files.push({ file, status: 'reset', detail: `${problem}; ${action}` });
      this.#report({ at: this.#now(), file, problem, action, preservedIn });
    }
  }

  /**
   * Opens the queue (from `create`, a fresh instance per attempt) and
   * repairs it when damaged. Returns undefined in safe mode.
   */
  async openQueue<Q extends OpenableQueue>(
    create: () => Q,
    start: StartReport,
  ): Promise<Q | undefined> {
    let queue = create();
    let damage: QueueDamage | undefined;
    try {
      const opened = await queue.open();
      damage = this.#judge(opened, start);
      if (!damage) {
        this.#noteOpened(opened);
        return queue;
      }
      await queue.close({ compact: false });
    } catch (error) {
      if (!(error instanceof HiveError && error.code === 'HIVE_STORE_CORRUPT')) throw error;
      damage = { kind: 'snapshot', problem: `db/queue.json cannot be read: ${error.message}` };
    }
    const compact = await this.#repairQueue(damage);
    if (compact === undefined) return undefined;
    queue = create();
    this.#noteOpened(await queue.open());
    // Leaves one clean snapshot and segment; the damaged ones stay only in db/damaged.
    if (compact) await queue.compact();
    return queue;
  }

  /**
   * Safe mode's way out: repairs the damaged parts with this backup as the
   * base (journal records after it are kept). Throws if the backup is bad.
   */
  async repairFrom(backupId: string): Promise<void> {
    const parts = this.safeMode?.parts ?? [];
    const backup = await this.#catalog.load(backupId);
    if (backup.problems.length > 0) throw corrupt(backup);
    for (const part of parts) {
      if (!backup.files.has(part)) {
        throw new HiveError(
          'HIVE_BACKUP_NOT_RESTORABLE',
          `backup ${backup.entry.id} (${backup.entry.kind}) does not hold the ${part}, which is what needs repair`,
        );
      }
    }
    if (parts.includes('queue')) await this.#rebuildQueue(backup, 'restore in safe mode');
    const registry = backup.files.get('registry');
    if (parts.includes('registry') && registry) {
      await this.#installer.install('restore of registry.json in safe mode', [
        { name: 'registry.json', data: registry.toString('utf8') },
      ]);
    }
  }

  #judge(opened: OpenReport, start: StartReport): QueueDamage | undefined {
    const { segments } = opened;
    if (opened.corruptLines.length > 0) {
      const where = opened.corruptLines.map((c) => `${c.segment}:${c.line}`).join(', ');
      return {
        kind: 'journal',
        problem: `the queue journal has corrupt lines (segment:line ${where})`,
      };
    }
    if (opened.snapshotFound && segments.length === 0) {
      const name = segmentFileName('queue', opened.snapshotSegment);
      return { kind: 'journal', problem: `journal segment ${name} is missing` };
    }
    const first = opened.snapshotFound ? opened.snapshotSegment : 1;
    const gap = segments.findIndex((s, i) => s !== first + i);
    if (gap !== -1) {
      const missing = first + gap;
      const what = opened.snapshotFound
        ? `journal segment ${segmentFileName('queue', missing)} is missing`
        : 'db/queue.json is missing while later journal segments exist';
      return { kind: opened.snapshotFound ? 'journal' : 'snapshot', problem: what };
    }
    const used = !start.firstStart || this.#catalog.entries().length > 0;
    if (!opened.snapshotFound && segments.length === 0 && used) {
      return {
        kind: 'missing',
        problem: 'the queue files (db/queue.json and its journal) are gone',
      };
    }
    if (opened.tornTailBytes > 0 && start.lastStart === 'clean') {
      return {
        kind: 'journal',
        problem: `the queue journal ends in a cut line after a clean stop (${opened.tornTailBytes} bytes): it was truncated`,
      };
    }
    return undefined;
  }

  /** true: repaired, compact after open; false: nothing to do; undefined: safe mode. */
  async #repairQueue(damage: QueueDamage): Promise<boolean | undefined> {
    this.#log.error(`queue damaged: ${damage.problem}`);
    if (!this.#repairOnStart) {
      this.#enterSafeMode(damage.problem, 'queue', 'backup.repairOnStart is off');
      return undefined;
    }
    const live = await readSnapshot(this.#dbDir, 'queue');
    const liveSeq = live.status === 'ok' ? live.seq : -1;
    const backup = await this.#newestGood('queue', liveSeq);
    if (backup) {
      await this.#rebuildQueue(backup, damage.problem);
      return true;
    }
    if (live.status === 'corrupt') {
      // The file is there: its owner may still mend it or put a copy back.
      this.#enterSafeMode(damage.problem, 'queue', 'no good backup holds the queue');
      return undefined;
    }
    // Nothing better exists: keep the snapshot (if any) and every readable record.
    const journal = await readJournal<unknown>(this.#dbDir, 'queue');
    const preservedIn = await this.#preserve(await this.#queueFiles());
    const base = live.status === 'ok' ? live.seq : 0;
    this.#report({
      at: this.#now(),
      file: 'db/queue.json',
      problem: damage.problem,
      action:
        live.status === 'ok'
          ? `kept db/queue.json (seq ${live.seq}) and every readable journal record; no backup is newer`
          : 'started from the readable journal records alone; no backup holds the queue',
      lost:
        lostRecords(base, journal.entries) ??
        (live.status === 'ok'
          ? 'unknown: what the damaged part held'
          : 'everything the snapshot held'),
      ...(preservedIn ? { preservedIn } : {}),
    });
    return true;
  }

  /** Installs `backup`'s queue plus every readable journal record after it as the queue. */
  async #rebuildQueue(backup: LoadedBackup, problem: string): Promise<void> {
    const data = backup.files.get('queue');
    if (!data) throw new Error(`backup ${backup.entry.id} has no queue`);
    const preservedIn = await this.#preserve(await this.#queueFiles());
    const journal = await readJournal<unknown>(this.#dbDir, 'queue');
    const snapshotGone = (await readSnapshot(this.#dbDir, 'queue')).status !== 'ok';
    const baseSeq = backup.entry.revision.queueSeq;
    const entries = journal.entries.filter((e) => e.seq > baseSeq);
    const segment = Math.max(0, ...journal.segments) + 1;
    const files = replacementFiles('queue', {
      base: data,
      baseSeq,
      entries,
      segment,
    });
    await this.#installer.install(`repair of the queue from ${backup.entry.id}`, files);
    const lost =
      lostRecords(baseSeq, entries) ??
      (snapshotGone && entries.length === 0
        ? `unknown: changes after seq ${baseSeq} that only db/queue.json held (it is unreadable or gone)`
        : undefined);
    this.#repaired(
      'db/queue.json',
      problem,
      `rebuilt from backup ${backup.entry.id} (seq ${baseSeq}) plus ${entries.length} journal records after it`,
      { backupId: backup.entry.id, preservedIn, ...(lost ? { lost } : {}) },
    );
  }

  /** The newest backup holding `part` that passes its checksums (and is newer than `afterSeq`). */
  async #newestGood(part: StatePart, afterSeq = -1): Promise<LoadedBackup | undefined> {
    const candidates = this.#catalog
      .entries()
      .filter((e) => e.files.some((f) => f.part === part) && e.revision.queueSeq > afterSeq)
      .toSorted(
        (a, b) => b.revision.queueSeq - a.revision.queueSeq || b.createdAtMs - a.createdAtMs,
      );
    for (const entry of candidates) {
      const loaded = await this.#catalog.load(entry.id, undefined, [part]);
      if (loaded.problems.length === 0 && parses(loaded.files.get(part))) return loaded;
      this.#log.warn(`backup ${entry.id} is not usable for repair: ${describeProblems(loaded)}`);
    }
    return undefined;
  }

  #noteOpened(opened: OpenReport): void {
    this.files.push({
      file: 'db/queue.json',
      status: opened.snapshotFound ? 'loaded' : 'missing',
      detail: opened.snapshotFound
        ? `snapshot at seq ${opened.snapshotSeq}`
        : 'no snapshot yet (first start, or never compacted)',
    });
    for (const segment of opened.segments) {
      this.files.push({
        file: `db/${segmentFileName('queue', segment)}`,
        status: 'loaded',
        detail:
          segment === opened.segments.at(-1)
            ? `journal: ${opened.records} records replayed in all${opened.tornTailBytes ? `; a torn last line of ${opened.tornTailBytes} bytes (never acknowledged) was cut off` : ''}`
            : 'journal',
      });
    }
  }

  async #queueFiles(): Promise<string[]> {
    const names = await readdir(this.#dbDir);
    return names
      .filter((n) => n === 'queue.json' || (n.startsWith('queue.') && n.endsWith('.wal')))
      .map((n) => join(this.#dbDir, n));
  }

  /** Copies damaged files to db/damaged/<time>/ before anything replaces them. */
  async #preserve(paths: string[]): Promise<string | undefined> {
    if (paths.length === 0) return undefined;
    this.#preserved ??= join(
      this.#dbDir,
      'damaged',
      new Date(this.#clock.now()).toISOString().replace(/[:.]/g, '-'),
    );
    ensureDirectory(this.#preserved);
    for (const path of paths) await copyFile(path, join(this.#preserved, basename(path)));
    await fsyncDirectory(this.#preserved);
    return this.#rel(this.#preserved);
  }

  #enterSafeMode(problem: string, part: StatePart, why: string): void {
    const newest = this.#catalog
      .entries()
      .filter((e) => e.files.some((f) => f.part === part))
      .at(-1);
    const file = join(this.#dbDir, part === 'queue' ? 'queue.*' : `${part}.json`);
    if (part === 'queue')
      this.files.push({ file: 'db/queue.json', status: 'damaged', detail: problem });
    this.safeMode ??= {
      since: this.#now(),
      reason: `${problem}; ${why}`,
      hint: newest
        ? `restore a backup: hive backup restore ${newest.id} --yes (see hive backup ls); or move ${file} aside and restart hived (what only it held is lost)`
        : `no backup holds the ${part}: move ${file} aside and restart hived (what only it held is lost), or put back a copy of it`,
      parts: [],
    };
    if (!this.safeMode.parts.includes(part)) this.safeMode.parts.push(part);
    this.#log.error(`safe mode: ${problem}; ${why}`);
  }

  #repaired(file: string, problem: string, action: string, extra: Partial<RepairReport>): void {
    this.files.push({ file, status: 'repaired', detail: `${problem}; ${action}` });
    this.#report({ at: this.#now(), file, problem, action, ...extra });
  }

  #report(report: RepairReport): void {
    this.repairs.push(report);
    const lost = report.lost ? `; lost: ${report.lost}` : '';
    this.#log.warn(`repaired ${report.file}: ${report.problem}; ${report.action}${lost}`, {
      repair: report,
    });
  }

  #rel(path: string): string {
    return relative(this.#stateDir, path);
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** Seq ranges missing between `baseSeq` and the readable records after it, as text. */
function lostRecords(baseSeq: number, entries: JournalEntry<unknown>[]): string | undefined {
  const ranges: string[] = [];
  let expected = baseSeq + 1;
  for (const entry of entries) {
    if (entry.seq <= baseSeq) continue;
    if (entry.seq > expected)
      ranges.push(expected === entry.seq - 1 ? `${expected}` : `${expected}-${entry.seq - 1}`);
    expected = Math.max(expected, entry.seq + 1);
  }
  if (ranges.length === 0) return undefined;
  return `journal records ${ranges.join(', ')} were not found (unreadable, in a lost file, or never written)`;
}

function parses(data: Buffer | undefined): boolean {
  if (!data) return false;
  try {
    JSON.parse(data.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}
