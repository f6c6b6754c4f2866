import { HiveError } from '../../protocol/errors.ts';
import type { BotSupervisor, RegistryDoc } from '../bots/supervisor.ts';
import type { JournalEntry } from '../store/journal.ts';
import type { JsonDocument } from '../store/json-document.ts';
import type { Dispatcher } from '../tasks/dispatcher.ts';
import { type QueueState, type Task, type TaskRecord, taskReducer } from '../tasks/task.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import type { AssignmentsDoc } from './capture.ts';
import { type BackupCatalog, corrupt, type LoadedBackup } from './catalog.ts';
import type { Staging, StateInstaller } from './installer.ts';
import { checkInvariants } from './invariants.ts';
import { PARTS_OF, type StatePart } from './manifest.ts';

/** The running daemon's parts a restore replaces and reconciles. */
export interface LiveParts {
  queue: TaskQueue;
  registry: JsonDocument<RegistryDoc>;
  bots: BotSupervisor;
  dispatcher: Dispatcher;
}

/** A backup's files parsed, checksums already checked. */
export interface ParsedBackup {
  loaded: LoadedBackup;
  /** `data`: the file's bytes (installed as they are); `loaded`: its tasks, indexed; `entries`: tasks in the file. */
  queue?: { data: Buffer; loaded: QueueState; entries: number };
  registry?: RegistryDoc;
  assignments?: AssignmentsDoc;
}

export function parseBackup(loaded: LoadedBackup): ParsedBackup {
  const parsed: ParsedBackup = { loaded };
  const read = (part: StatePart): unknown => {
    const data = loaded.files.get(part);
    if (!data) return undefined;
    try {
      return JSON.parse(data.toString('utf8'));
    } catch (error) {
      throw new HiveError(
        'HIVE_BACKUP_INVALID',
        `backup ${loaded.entry.id}: ${part}.json is not valid JSON (${(error as Error).message})`,
      );
    }
  };
  const queue = read('queue') as { tasks?: unknown } | undefined;
  const queueData = loaded.files.get('queue');
  if (queue !== undefined && queueData) {
    parsed.queue = {
      data: queueData,
      loaded: taskReducer.fromSnapshot(queue),
      entries: Array.isArray(queue?.tasks) ? queue.tasks.length : 0,
    };
  }
  const registry = read('registry');
  if (registry !== undefined) parsed.registry = registry as RegistryDoc;
  const assignments = read('assignments');
  if (assignments !== undefined) parsed.assignments = assignments as AssignmentsDoc;
  return parsed;
}

/** Invariant problems of a parsed backup (empty when sound). */
export function problemsOf(parsed: ParsedBackup): string[] {
  const { entry } = parsed.loaded;
  return checkInvariants({
    queueSeq: entry.revision.queueSeq,
    counts: entry.counts,
    ...(parsed.queue
      ? {
          tasks: parsed.queue.loaded.tasks,
          keys: parsed.queue.loaded.keys,
          taskEntries: parsed.queue.entries,
        }
      : {}),
    ...(parsed.registry ? { registry: parsed.registry } : {}),
    ...(parsed.assignments ? { assignments: parsed.assignments } : {}),
  });
}

interface TaskBrief {
  id: string;
  type: string;
  state: string;
}

const SAMPLE = 50;
const brief = (t: Task): TaskBrief => ({ id: t.id, type: t.type, state: t.state });

/** How the restored queue meets the live one. */
export interface QueueReconcile {
  backupTasks: number;
  liveTasks: number;
  /** Live tasks the backup does not know (acknowledged since): kept, never dropped. */
  kept: { count: number; sample: TaskBrief[] };
  /** Kept tasks whose idempotency key the backup gives to another task: kept without the key. */
  keyConflicts: { id: string; key: string }[];
  /** Tasks in both whose live state differs: they go back to the backup's state. */
  rolledBack: { count: number; sample: { id: string; live: string; backup: string }[] };
  /** Tasks in the backup that are no longer live (pruned or finished since): they come back. */
  reappeared: number;
  /** Leases in the restored state (their bots are another generation): requeued. */
  requeued: number;
}

/**
 * Compares the backup's queue with the live one, and makes the records
 * that reconcile them: each live task the backup does not know is put
 * back whole (`restore`), then every lease in the result is released
 * (`requeue`). Records are numbered after `seq`, so fencing tokens stay
 * unique across the restore.
 */
export function reconcileQueue(
  backup: QueueState,
  live: Iterable<Task>,
  seq: number,
  at: number,
  reason: string,
): { report: QueueReconcile; entries: JournalEntry<TaskRecord>[] } {
  const entries: JournalEntry<TaskRecord>[] = [];
  const report: QueueReconcile = {
    backupTasks: backup.tasks.size,
    liveTasks: 0,
    kept: { count: 0, sample: [] },
    keyConflicts: [],
    rolledBack: { count: 0, sample: [] },
    reappeared: 0,
    requeued: 0,
  };
  const running: Task[] = [];
  for (const task of live) {
    report.liveTasks += 1;
    const restored = backup.tasks.get(task.id);
    if (restored) {
      if (restored.state !== task.state) {
        report.rolledBack.count += 1;
        if (report.rolledBack.sample.length < SAMPLE)
          report.rolledBack.sample.push({ id: task.id, live: task.state, backup: restored.state });
      }
      continue;
    }
    report.kept.count += 1;
    if (report.kept.sample.length < SAMPLE) report.kept.sample.push(brief(task));
    if (task.key !== undefined && backup.keys.has(task.key))
      report.keyConflicts.push({ id: task.id, key: task.key });
    entries.push({ seq: ++seq, record: { t: 'restore', task } });
    if (task.state === 'running') running.push(task);
  }
  // Counted, not looked up: one hash lookup per task is what a large queue costs here.
  report.reappeared = backup.tasks.size - (report.liveTasks - report.kept.count);
  for (const task of backup.tasks.values()) if (task.state === 'running') running.push(task);
  for (const task of running) {
    const token = task.lease?.token ?? 0;
    entries.push({ seq: ++seq, record: { t: 'requeue', id: task.id, token, at, reason } });
  }
  report.requeued = running.length;
  return { report, entries };
}

export interface RestoreOutcome {
  parts: StatePart[];
  /** Live leases released before the swap (their tasks went back to the queue). */
  released: number;
  queue?: QueueReconcile;
  registry?: { changed: { kind: string; from: number; to: number }[]; unknownKinds: string[] };
}

/** Thrown when a restore failed after its commit point: disk is new, memory is old. */
export class RestoreCommittedError extends Error {
  override name = 'RestoreCommittedError';
}

/**
 * Replaces the live state with a parsed backup, atomically:
 *
 *   1. dispatching stops and running leases are requeued (bots are told);
 *   2. queue writes are suspended (appends fail with HIVE_STORE_SUSPENDED)
 *      and registry saves held, once everything before is durable;
 *   3. in one turn, the live queue is compared with the backup, and the new
 *      files are built: a queue snapshot that is the backup's queue at the
 *      live seq, a new journal segment with the reconcile records, and the
 *      registry with the backup's scale overrides and the live bot records;
 *   4. the installer commits them (see installer.ts): a crash before
 *      leaves the old state, after it the new one. The large snapshot was
 *      staged before step 1 (`stage`), so writes stay suspended only for
 *      the small files and the commit;
 *   5. memory switches to the new state in one step, writes resume, the
 *      pools are resized to the restored scale, dispatching resumes.
 */
export class LiveRestore {
  readonly #live: LiveParts;
  readonly #installer: StateInstaller;
  readonly #now: () => number;

  constructor(deps: { live: LiveParts; installer: StateInstaller; now: () => number }) {
    this.#live = deps.live;
    this.#installer = deps.installer;
    this.#now = deps.now;
  }

  /**
   * Starts writing the restore's large file (the queue snapshot: the
   * backup's bytes behind a placeholder header) into a staging folder, so
   * that the write overlaps the parse and the queue is suspended only for
   * the small files. Pass the result to `run`, or `discard` it.
   */
  stage(loaded: LoadedBackup): StagedRestore {
    const staging = this.#installer.begin();
    const data = loaded.files.get('queue');
    const written = data
      ? staging.write(this.#live.queue.snapshotFile(data, 0, 0))
      : Promise.resolve();
    written.catch(() => {}); // awaited by run or discard; never an unhandled rejection meanwhile
    return {
      staging,
      written,
      discard: async () => {
        await written.catch(() => {});
        await staging.discard();
      },
    };
  }

  async run(parsed: ParsedBackup, staged: StagedRestore, label: string): Promise<RestoreOutcome> {
    const { queue, registry, bots, dispatcher } = this.#live;
    const id = parsed.loaded.entry.id;
    const outcome: RestoreOutcome = { parts: [], released: 0 };
    if (parsed.queue) outcome.released = await dispatcher.releaseLeases(`restore of backup ${id}`);
    let suspended: { seq: number; nextSegment: number } | undefined;
    let releaseRegistry: (() => Promise<void>) | undefined;
    let committed = false;
    try {
      await staged.written;
      if (parsed.queue) {
        suspended = await queue.suspend(
          `a restore of backup ${id} is replacing the queue; retry in a moment`,
        );
      }
      if (parsed.registry) releaseRegistry = await registry.hold();
      let entries: JournalEntry<TaskRecord>[] = [];
      if (parsed.queue && suspended) {
        const reconciled = reconcileQueue(
          parsed.queue.loaded,
          queue.tasks(),
          suspended.seq,
          this.#now(),
          `restore of backup ${id}`,
        );
        entries = reconciled.entries;
        outcome.queue = reconciled.report;
        outcome.parts.push('queue');
        const { seq, nextSegment } = suspended;
        await staged.staging.patch('queue.json', 0, queue.snapshotHeader(seq, nextSegment));
        await staged.staging.write(queue.journalFile(nextSegment, entries));
      }
      const restoredRegistry = parsed.registry && {
        bots: registry.data.bots,
        scale: parsed.registry.scale ?? {},
      };
      if (restoredRegistry) {
        outcome.parts.push('registry');
        await staged.staging.write({
          name: 'registry.json',
          data: JSON.stringify(restoredRegistry),
        });
      }
      await staged.staging.commit(label, () => {
        committed = true;
      });
      if (parsed.queue && suspended) {
        // The parsed tasks become the live ones: no second copy of a large queue.
        await queue.adopt(parsed.queue.loaded, entries, suspended.nextSegment);
      }
      if (restoredRegistry) registry.data = structuredClone(restoredRegistry);
    } catch (error) {
      if (committed) {
        // Memory is old, disk is new: nothing may be written from memory now.
        throw new RestoreCommittedError(
          `restore of ${id} failed after its commit point (${(error as Error).message}); the next start completes it`,
        );
      }
      await staged.discard();
      await releaseRegistry?.();
      if (suspended) await queue.resume();
      dispatcher.resume();
      throw error;
    }
    await releaseRegistry?.();
    if (parsed.registry) outcome.registry = await bots.adoptScale(parsed.registry.scale ?? {});
    dispatcher.resume();
    return outcome;
  }
}

/** The large file of a restore, being written ahead of the swap (see LiveRestore.stage). */
export interface StagedRestore {
  staging: Staging;
  written: Promise<void>;
  discard(): Promise<void>;
}

/** Loads a backup to restore; refuses it when a file is missing or does not match its checksum. */
export async function loadForRestore(
  catalog: BackupCatalog,
  id: string,
  progress?: (message: string) => void,
): Promise<LoadedBackup> {
  await catalog.ensureIndex();
  const entry = catalog.get(id);
  if (entry.kind === 'assignments') {
    throw new HiveError(
      'HIVE_BACKUP_NOT_RESTORABLE',
      `backup ${entry.id} holds assignments only; they are derived from the queue's leases, which only the dispatcher grants to live bots: restore a queue or full backup`,
    );
  }
  const loaded = await catalog.load(entry.id, progress);
  if (loaded.problems.length > 0) {
    await catalog.recordCheck(entry.id, {
      at: new Date().toISOString(),
      ok: false,
      problems: loaded.problems.map((p) => `${p.file}: ${p.problem}`),
    });
    throw corrupt(loaded);
  }
  return loaded;
}

/** Parses a loaded backup; refuses it when its state breaks an invariant. */
export function parseForRestore(loaded: LoadedBackup): ParsedBackup {
  const parsed = parseBackup(loaded);
  const problems = problemsOf(parsed);
  if (problems.length > 0) {
    throw new HiveError(
      'HIVE_BACKUP_INVALID',
      `backup ${loaded.entry.id} breaks invariants: ${problems.join('; ')}`,
      { problems },
    );
  }
  return parsed;
}

/** What a restore of `parsed` would do to the live state (for `hive backup restore` without --yes). */
export function restorePlan(parsed: ParsedBackup, live: LiveParts): Record<string, unknown> {
  const plan: Record<string, unknown> = {
    parts: PARTS_OF[parsed.loaded.entry.kind].filter((p) => p !== 'assignments'),
    safetyBackup: 'a full backup of the current state is taken first (source pre-restore)',
  };
  if (parsed.queue) {
    const { report } = reconcileQueue(
      parsed.queue.loaded,
      live.queue.tasks(),
      live.queue.lastSeq,
      0,
      '',
    );
    plan.queue = { ...report, liveRunningRequeued: live.queue.counts().running };
  }
  if (parsed.registry) {
    plan.registry = { scaleNow: live.registry.data.scale, scaleAfter: parsed.registry.scale };
  }
  return plan;
}

export function describeOutcome(outcome: RestoreOutcome): string {
  const parts: string[] = [];
  if (outcome.queue) {
    const q = outcome.queue;
    parts.push(
      `queue: ${q.backupTasks} tasks from the backup, ${q.kept.count} newer tasks kept, ${q.rolledBack.count} rolled back, ${q.requeued} leases requeued, ${outcome.released} running tasks released`,
    );
  }
  if (outcome.registry) {
    const changed = outcome.registry.changed.map((c) => `${c.kind} ${c.from}->${c.to}`);
    parts.push(
      `registry: ${changed.length > 0 ? `pools ${changed.join(', ')}` : 'no pool changed'}`,
    );
  }
  return parts.join('; ');
}
