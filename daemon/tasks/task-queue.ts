import { HiveError } from '../../protocol/errors.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import { FinishedLog, type RetentionRule } from '../core/finished-log.ts';
import { newId } from '../core/ids.ts';
import {
  EventStore,
  journalFile,
  type OpenReport,
  type StoreFile,
  snapshotFile,
  snapshotHeader,
} from '../store/event-store.ts';
import type { JournalEntry, JournalFs } from '../store/journal.ts';
import { ReadyIndex } from './ready-index.ts';
import {
  applyTaskRecord,
  FINAL_STATES,
  type QueueState,
  TASK_STATES,
  type Task,
  type TaskRecord,
  type TaskState,
  taskReducer,
} from './task.ts';

export interface SubmitRequest {
  type: string;
  payload: unknown;
  priority: number;
  key?: string;
  timeoutMs: number;
  maxAttempts: number;
  submittedBy?: string;
}

export interface TaskQueueEvents {
  /** A task changed state (after the change is durable); `record` is what changed it. */
  changed: { task: Task; from: TaskState | undefined; record: TaskRecord };
  /** New work may be dispatchable. */
  ready: undefined;
  /** The whole state was replaced (a restore); no `changed` events were sent for it. */
  replaced: { tasks: number };
}

export type Counts = Record<TaskState, number>;

/**
 * The durable queue: every change is a journal record applied once it is on
 * disk, so what this class shows is always what a restart would show.
 */
export class TaskQueue extends TypedEmitter<TaskQueueEvents> implements ConfigApplier {
  readonly configPart = 'tasks';
  readonly configKeys = ['queue.compactAfterBytes'];
  readonly #store: EventStore<QueueState, TaskRecord>;
  readonly #clock: Clock;
  readonly ready: ReadyIndex;
  readonly #counts: Counts = { queued: 0, running: 0, done: 0, failed: 0, dead: 0, cancelled: 0 };
  /** Finished task ids in finishing order, for pruning. */
  readonly #finished = new FinishedLog();
  /** Called with the final task, or with undefined when a restore removed it. */
  readonly #waiters = new Map<string, Set<(task: Task | undefined) => void>>();
  /** Submissions in flight by idempotency key, so a concurrent duplicate gets the same id. */
  readonly #pendingKeys = new Map<string, Promise<Task>>();
  #replaying = false;

  constructor(dir: string, deps: { clock: Clock; compactAfterBytes: number; fs?: JournalFs }) {
    super();
    this.#clock = deps.clock;
    this.ready = new ReadyIndex((id) => this.#store.state.tasks.get(id));
    this.#store = new EventStore<QueueState, TaskRecord>(
      dir,
      'queue',
      {
        ...taskReducer,
        apply: (state, record, seq) => this.#apply(state, record, seq),
      },
      { compactAfterBytes: deps.compactAfterBytes, ...(deps.fs ? { fs: deps.fs } : {}) },
    );
  }

  async open(): Promise<OpenReport> {
    this.#replaying = true;
    try {
      const report = await this.#store.open();
      this.#rebuildIndexes();
      return report;
    } finally {
      this.#replaying = false;
    }
  }

  #apply(state: QueueState, record: TaskRecord, seq: number): void {
    const id =
      record.t === 'submit' || record.t === 'restore'
        ? record.task.id
        : record.t === 'prune'
          ? undefined
          : record.id;
    const from = id === undefined ? undefined : state.tasks.get(id)?.state;
    if (record.t === 'prune' && !this.#replaying) {
      for (const pruned of record.ids) {
        const state_ = state.tasks.get(pruned)?.state;
        if (state_ && FINAL_STATES.has(state_)) this.#counts[state_] -= 1;
      }
    }
    const task = applyTaskRecord(state, record, seq);
    if (!task || this.#replaying) return;
    if (from) this.#counts[from] -= 1;
    this.#counts[task.state] += 1;
    if (task.state === 'queued') {
      this.ready.add(task, this.#clock.now());
      this.emit('ready', undefined);
    } else if (FINAL_STATES.has(task.state)) {
      this.#finished.push(task.id);
      this.#resolveWaiters(task);
    }
    this.emit('changed', { task, from, record });
  }

  #rebuildIndexes(): void {
    for (const state of TASK_STATES) this.#counts[state] = 0;
    this.ready.clear();
    this.#finished.clear();
    const now = this.#clock.now();
    const finished: Task[] = [];
    for (const task of this.#store.state.tasks.values()) {
      this.#counts[task.state] += 1;
      if (task.state === 'queued') this.ready.add(task, now);
      else if (FINAL_STATES.has(task.state)) finished.push(task);
    }
    finished.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const task of finished) this.#finished.push(task.id);
  }

  commit(record: TaskRecord): Promise<number> {
    return this.#store.commit(record);
  }

  get(id: string): Task | undefined {
    return this.#store.state.tasks.get(id);
  }

  require(id: string): Task {
    const task = this.get(id);
    if (!task) {
      throw new HiveError(
        'HIVE_TASK_NOT_FOUND',
        `no task ${id} (finished tasks are pruned after their retention)`,
      );
    }
    return task;
  }

  counts(): Counts {
    return { ...this.#counts };
  }

  get unfinished(): number {
    return this.#counts.queued + this.#counts.running;
  }

  /** Tasks currently leased (state running). */
  *running(): IterableIterator<Task> {
    for (const task of this.#store.state.tasks.values()) if (task.state === 'running') yield task;
  }

  /** Persists a new task (or returns the one its idempotency key names); resolves once durable. */
  async submit(request: SubmitRequest): Promise<{ task: Task; created: boolean }> {
    const { key } = request;
    if (key !== undefined) {
      // No await unless a submission with this key is in flight: an await here would let a
      // concurrent duplicate (pipelined on one connection) pass the check before #pendingKeys is set.
      const pending = this.#pendingKeys.get(key);
      const existing =
        this.#byKey(key) ?? (pending ? await pending.catch(() => undefined) : undefined);
      if (existing) {
        if (existing.type !== request.type) {
          throw new HiveError(
            'HIVE_TASK_KEY_CONFLICT',
            `key ${JSON.stringify(key)} already names task ${existing.id} of type ${existing.type}`,
          );
        }
        return { task: existing, created: false };
      }
    }
    const now = this.#clock.now();
    const id = newId('t', now);
    const record: TaskRecord = {
      t: 'submit',
      task: {
        id,
        type: request.type,
        payload: request.payload,
        priority: request.priority,
        ...(key !== undefined ? { key } : {}),
        maxAttempts: request.maxAttempts,
        timeoutMs: request.timeoutMs,
        createdAt: now,
        ...(request.submittedBy ? { submittedBy: request.submittedBy } : {}),
      },
    };
    const durable = this.#store.commit(record).then(() => this.require(id));
    if (key !== undefined) {
      this.#pendingKeys.set(key, durable);
      durable.finally(() => this.#pendingKeys.delete(key)).catch(() => {});
    }
    return { task: await durable, created: true };
  }

  #byKey(key: string): Task | undefined {
    const id = this.#store.state.keys.get(key);
    return id === undefined ? undefined : this.get(id);
  }

  /** Sends a dead or failed task back to the queue with a fresh set of attempts. */
  async retry(id: string, by: string | undefined): Promise<Task> {
    const task = this.require(id);
    if (task.state !== 'dead' && task.state !== 'failed') {
      throw new HiveError(
        'HIVE_TASK_NOT_RETRYABLE',
        `task ${id} is ${task.state}; only a dead or failed task can be retried`,
      );
    }
    await this.#store.commit({ t: 'retry', id, at: this.#clock.now(), ...(by ? { by } : {}) });
    return task;
  }

  /** Resolves with the task once it is final (at once if it already is). */
  waitFor(id: string, signal?: AbortSignal): Promise<Task> {
    const task = this.require(id);
    if (FINAL_STATES.has(task.state)) return Promise.resolve(task);
    return new Promise((resolve, reject) => {
      let set = this.#waiters.get(id);
      if (!set) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      const waiter = (done: Task | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        if (done) resolve(done);
        else reject(new HiveError('HIVE_TASK_NOT_FOUND', `task ${id} is gone after a restore`));
      };
      const onAbort = () => {
        set.delete(waiter);
        if (set.size === 0) this.#waiters.delete(id);
        reject(signal?.reason);
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #resolveWaiters(task: Task): void {
    const set = this.#waiters.get(task.id);
    if (!set) return;
    this.#waiters.delete(task.id);
    for (const waiter of set) waiter(task);
  }

  /** Newest first, optionally filtered. */
  list(filter: { state?: TaskState; type?: string; limit: number }): Task[] {
    const out: Task[] = [];
    const all = [...this.#store.state.tasks.values()];
    for (let i = all.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const task = all[i] as Task;
      if (filter.state && task.state !== filter.state) continue;
      if (filter.type && task.type !== filter.type) continue;
      out.push(task);
    }
    return out;
  }

  /**
   * Ids of finished tasks past their retention: older than maxAgeMs, or
   * beyond the newest maxFinished.
   */
  prunable(retention: RetentionRule): string[] {
    return this.#finished.prunable(retention, this.#clock.now(), (id) => {
      const task = this.get(id);
      return task && FINAL_STATES.has(task.state)
        ? (task.finishedAt ?? Number.POSITIVE_INFINITY)
        : undefined;
    });
  }

  get lastSeq(): number {
    return this.#store.lastSeq;
  }

  /** Every task, in insertion order. */
  tasks(): IterableIterator<Task> {
    return this.#store.state.tasks.values();
  }

  /**
   * The queue as snapshot JSON with the seq it reflects. Synchronous on
   * purpose: the state is mutated in place, so it is only consistent within
   * one turn of the event loop.
   */
  snapshotJson(): { seq: number; json: string } {
    return {
      seq: this.#store.lastSeq,
      json: JSON.stringify(taskReducer.toSnapshot(this.#store.state)),
    };
  }

  /** Stops every write (HIVE_STORE_SUSPENDED) while a restore replaces the files. */
  suspend(reason: string): Promise<{ seq: number; nextSegment: number }> {
    return this.#store.suspend(reason);
  }

  /** The queue's snapshot file holding `base` (snapshot JSON) at `seq`, pointing at `segment`. */
  snapshotFile(base: string | Uint8Array, seq: number, segment: number): StoreFile {
    return snapshotFile('queue', base, seq, segment);
  }

  /** The fixed-width start of that file, to rewrite once seq and segment are known. */
  snapshotHeader(seq: number, segment: number): string {
    return snapshotHeader('queue', seq, segment);
  }

  /** The queue's journal segment file holding `entries`. */
  journalFile(segment: number, entries: JournalEntry<TaskRecord>[]): StoreFile {
    return journalFile('queue', segment, entries);
  }

  /**
   * Switches to installed replacement files: `base` (the replacement's base,
   * built with taskReducer.fromSnapshot) plus `entries` becomes the state. Waiters of tasks that are now final are answered; waiters of
   * tasks that no longer exist get HIVE_TASK_NOT_FOUND.
   */
  async adopt(
    base: QueueState,
    entries: JournalEntry<TaskRecord>[],
    segment: number,
  ): Promise<void> {
    this.#replaying = true;
    try {
      await this.#store.adopt(base, entries, segment);
    } finally {
      this.#replaying = false;
    }
    this.#rebuildIndexes();
    for (const [id, waiters] of [...this.#waiters]) {
      const task = this.get(id);
      if (task && !FINAL_STATES.has(task.state)) continue;
      this.#waiters.delete(id);
      for (const waiter of waiters) waiter(task);
    }
    this.emit('replaced', { tasks: this.#store.state.tasks.size });
    this.emit('ready', undefined);
  }

  /** Ends a suspension without a replacement. */
  resume(): Promise<void> {
    return this.#store.resume();
  }

  flushed(): Promise<void> {
    return this.#store.flushed();
  }

  compact(): Promise<void> {
    return this.#store.compact();
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      this.#store.setCompactAfterBytes(next.config.queue.compactAfterBytes);
      return undefined;
    };
  }

  close(options: { compact: boolean }): Promise<void> {
    return this.#store.close(options);
  }
}
