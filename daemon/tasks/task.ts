import type { ReleaseLabel } from '../../protocol/deploy.ts';
import type { Reducer } from '../store/event-store.ts';
import type { Reroute } from './route.ts';

export type TaskState = 'queued' | 'running' | 'done' | 'failed' | 'dead' | 'cancelled';
export const FINAL_STATES: ReadonlySet<TaskState> = new Set([
  'done',
  'failed',
  'dead',
  'cancelled',
]);
export const TASK_STATES: readonly TaskState[] = [
  'queued',
  'running',
  'done',
  'failed',
  'dead',
  'cancelled',
];

export type AttemptOutcome = 'done' | 'error' | 'timeout' | 'crash' | 'requeued';

export interface Attempt {
  bot: string;
  token: number;
  startedAt: number;
  endedAt?: number;
  outcome?: AttemptOutcome;
  error?: string;
  /** The bot is of another kind than the type's own (a fallback), and why. */
  reroute?: Reroute;
  /** The deployment pool and version of the bot (while a deployment ran; issue 8). */
  release?: ReleaseLabel;
}

export interface TaskError {
  /** `bot_error`, `timeout`, `crash`, `cancelled`, ... */
  reason: string;
  message: string;
}

/** A task as stored in the queue document. */
export interface Task {
  id: string;
  type: string;
  payload: unknown;
  priority: number;
  key?: string;
  state: TaskState;
  /** Leases granted so far that count toward maxAttempts. */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  createdAt: number;
  updatedAt: number;
  /** Not dispatched before this time (retry backoff). */
  availableAt: number;
  lease?: { bot: string; token: number; expiresAt: number };
  result?: unknown;
  error?: TaskError;
  finishedAt?: number;
  submittedBy?: string;
  history: Attempt[];
}

export type TaskRecord =
  | {
      t: 'submit';
      task: Pick<
        Task,
        | 'id'
        | 'type'
        | 'payload'
        | 'priority'
        | 'key'
        | 'maxAttempts'
        | 'timeoutMs'
        | 'createdAt'
        | 'submittedBy'
      >;
    }
  /** The record's sequence number is the lease's fencing token. */
  | {
      t: 'lease';
      id: string;
      bot: string;
      at: number;
      expiresAt: number;
      reroute?: Reroute;
      release?: ReleaseLabel;
    }
  | { t: 'done'; id: string; token: number; at: number; result: unknown }
  | {
      t: 'fail';
      id: string;
      token: number;
      at: number;
      outcome: 'error' | 'timeout' | 'crash';
      error: TaskError;
      /** Set: back to the queue at this time. Unset: final in `final`. */
      retryAt?: number;
      final?: 'failed' | 'dead';
    }
  /** Lease released without counting an attempt (daemon drain or restart). */
  | { t: 'requeue'; id: string; token: number; at: number; reason: string }
  /** `by`: the user who asked (for the audit trail). */
  | { t: 'cancel'; id: string; at: number; reason: string; by?: string }
  /** A dead or failed task goes back to the queue with a fresh set of attempts. */
  | { t: 'retry'; id: string; at: number; by?: string }
  | { t: 'prune'; ids: string[] }
  /**
   * A whole task put back as it was (a restore keeps tasks acknowledged after
   * its backup). Ignored when the id exists; the key is dropped when another
   * task already holds it, so a replay builds the same key map.
   */
  | { t: 'restore'; task: Task };

export interface QueueState {
  tasks: Map<string, Task>;
  /** Idempotency key → task id. */
  keys: Map<string, string>;
}

/** What a record did, for the queue's indexes and waiters. */
export interface AppliedChange {
  task: Task | undefined;
  from: TaskState | undefined;
  record: TaskRecord;
}

function closeAttempt(
  task: Task,
  token: number,
  at: number,
  outcome: AttemptOutcome,
  error?: string,
): void {
  const attempt = task.history.findLast((a) => a.token === token);
  if (!attempt) return;
  attempt.endedAt = at;
  attempt.outcome = outcome;
  if (error) attempt.error = error;
}

/** True when a record about a lease still matches the task's current lease. */
function holdsLease(task: Task | undefined, token: number): task is Task {
  return task !== undefined && task.state === 'running' && task.lease?.token === token;
}

/**
 * The queue's fold. Every transition is checked against the current state,
 * so a record that lost a race (a result for a lease that expired) is a
 * no-op both live and during replay.
 */
export function applyTaskRecord(
  state: QueueState,
  record: TaskRecord,
  seq: number,
): Task | undefined {
  switch (record.t) {
    case 'submit': {
      if (state.tasks.has(record.task.id)) return undefined;
      const t = record.task;
      const task: Task = {
        ...t,
        state: 'queued',
        attempts: 0,
        updatedAt: t.createdAt,
        availableAt: t.createdAt,
        history: [],
      };
      if (t.key === undefined) delete task.key;
      state.tasks.set(task.id, task);
      if (task.key) state.keys.set(task.key, task.id);
      return task;
    }
    case 'lease': {
      const task = state.tasks.get(record.id);
      if (task?.state !== 'queued') return undefined;
      task.state = 'running';
      task.attempts += 1;
      task.lease = { bot: record.bot, token: seq, expiresAt: record.expiresAt };
      task.updatedAt = record.at;
      task.history.push({
        bot: record.bot,
        token: seq,
        startedAt: record.at,
        ...(record.reroute ? { reroute: record.reroute } : {}),
        ...(record.release ? { release: record.release } : {}),
      });
      return task;
    }
    case 'done': {
      const task = state.tasks.get(record.id);
      if (!holdsLease(task, record.token)) return undefined;
      closeAttempt(task, record.token, record.at, 'done');
      task.state = 'done';
      task.result = record.result;
      delete task.lease;
      task.updatedAt = task.finishedAt = record.at;
      return task;
    }
    case 'fail': {
      const task = state.tasks.get(record.id);
      if (!holdsLease(task, record.token)) return undefined;
      closeAttempt(task, record.token, record.at, record.outcome, record.error.message);
      delete task.lease;
      task.error = record.error;
      task.updatedAt = record.at;
      if (record.final) {
        task.state = record.final;
        task.finishedAt = record.at;
      } else {
        task.state = 'queued';
        task.availableAt = record.retryAt ?? record.at;
      }
      return task;
    }
    case 'requeue': {
      const task = state.tasks.get(record.id);
      if (!holdsLease(task, record.token)) return undefined;
      closeAttempt(task, record.token, record.at, 'requeued', record.reason);
      delete task.lease;
      task.state = 'queued';
      task.attempts = Math.max(0, task.attempts - 1);
      task.availableAt = record.at;
      task.updatedAt = record.at;
      return task;
    }
    case 'cancel': {
      const task = state.tasks.get(record.id);
      if (!task || FINAL_STATES.has(task.state)) return undefined;
      if (task.lease) closeAttempt(task, task.lease.token, record.at, 'requeued', 'cancelled');
      delete task.lease;
      task.state = 'cancelled';
      task.error = { reason: 'cancelled', message: record.reason };
      task.updatedAt = task.finishedAt = record.at;
      return task;
    }
    case 'retry': {
      const task = state.tasks.get(record.id);
      if (task?.state !== 'dead' && task?.state !== 'failed') return undefined;
      task.state = 'queued';
      task.attempts = 0;
      task.availableAt = record.at;
      task.updatedAt = record.at;
      delete task.finishedAt;
      return task;
    }
    case 'restore': {
      if (state.tasks.has(record.task.id)) return undefined;
      const task = structuredClone(record.task);
      if (task.key !== undefined && state.keys.has(task.key)) delete task.key;
      state.tasks.set(task.id, task);
      if (task.key !== undefined) state.keys.set(task.key, task.id);
      return task;
    }
    case 'prune': {
      for (const id of record.ids) {
        const task = state.tasks.get(id);
        if (!task || !FINAL_STATES.has(task.state)) continue;
        state.tasks.delete(id);
        if (task.key && state.keys.get(task.key) === id) state.keys.delete(task.key);
      }
      return undefined;
    }
  }
}

export const taskReducer: Reducer<QueueState, TaskRecord> = {
  empty: () => ({ tasks: new Map(), keys: new Map() }),
  apply: (state, record, seq) => {
    applyTaskRecord(state, record, seq);
  },
  toSnapshot: (state) => ({ tasks: [...state.tasks.values()] }),
  fromSnapshot: (data) => {
    const state: QueueState = { tasks: new Map(), keys: new Map() };
    const tasks = (data as { tasks?: Task[] } | null)?.tasks ?? [];
    for (const task of tasks) {
      state.tasks.set(task.id, task);
      if (task.key) state.keys.set(task.key, task.id);
    }
    return state;
  },
};
