import { createHash } from 'node:crypto';
import type { RegistryDoc } from '../bots/supervisor.ts';
import type { Task, TaskState } from '../tasks/task.ts';
import type { Manifest, Revision, StatePart } from './manifest.ts';

/**
 * "Bot assignments" as a state kind. Leases live in the queue's task
 * records (one source of truth, journaled with the task), so assignments
 * are not a second document that could disagree with the queue: they are a
 * projection of the leases per bot, joined with the registry's bot records,
 * taken in the same turn as the queue. A bot that holds a lease but has
 * already left the registry (it exited a moment ago and its requeue is not
 * yet durable) is recorded with state `gone`, so the document says so
 * instead of pointing at an unknown bot.
 */
export interface AssignmentsDoc {
  format: 1;
  queueSeq: number;
  bots: Record<string, AssignedBot>;
}

export interface AssignedBot {
  kind: string | null;
  state: string;
  pid: number | null;
  tasks: { id: string; token: number; expiresAt: number }[];
}

export function projectAssignments(
  tasks: Iterable<Task>,
  registry: RegistryDoc,
  queueSeq: number,
): AssignmentsDoc {
  const bots: Record<string, AssignedBot> = {};
  for (const [name, bot] of Object.entries(registry.bots)) {
    bots[name] = { kind: bot.kind, state: bot.state, pid: bot.pid, tasks: [] };
  }
  for (const task of tasks) {
    const lease = task.state === 'running' ? task.lease : undefined;
    if (!lease) continue;
    bots[lease.bot] ??= { kind: null, state: 'gone', pid: null, tasks: [] };
    bots[lease.bot]?.tasks.push({ id: task.id, token: lease.token, expiresAt: lease.expiresAt });
  }
  return { format: 1, queueSeq, bots };
}

/** What a backup reads from the live daemon; TaskQueue and the registry JsonDocument fit. */
export interface StateSources {
  queue: {
    readonly lastSeq: number;
    snapshotJson(): { seq: number; json: string };
    tasks(): Iterable<Task>;
  };
  registry: { readonly data: RegistryDoc };
}

export interface CapturedFile {
  name: string;
  part: StatePart;
  data: Buffer;
}

export interface CapturedState {
  revision: Revision;
  counts: Manifest['counts'];
  files: CapturedFile[];
}

export const FILE_OF: Record<StatePart, string> = {
  queue: 'queue.json',
  registry: 'registry.json',
  assignments: 'assignments.json',
};

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const HASH_SLICE = 4 * 1024 * 1024;

/**
 * SHA-256 in 4 MB slices with a yield between them: about 2 ms of event
 * loop per slice (SHA-NI), so hashing a large backup never stalls the
 * daemon. (WebCrypto's digest runs off-thread but copies its input first
 * and was half as fast here.)
 */
export async function sha256Async(data: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < data.length; at += HASH_SLICE) {
    hash.update(data.subarray(at, at + HASH_SLICE));
    if (at + HASH_SLICE < data.length) await new Promise<void>((r) => setImmediate(r));
  }
  return hash.digest('hex');
}

/** The revision the live state is at now, without serializing the queue. */
export function currentRevision(sources: StateSources): Revision {
  return {
    queueSeq: sources.queue.lastSeq,
    registrySha256: sha256(JSON.stringify(sources.registry.data)),
  };
}

/**
 * Serializes the asked parts of the live state. Synchronous on purpose:
 * tasks are mutated in place, so only within one turn of the event loop do
 * the queue, the registry and the seq describe the same instant.
 */
export function captureState(sources: StateSources, parts: readonly StatePart[]): CapturedState {
  const registryJson = JSON.stringify(sources.registry.data);
  const revision: Revision = {
    queueSeq: sources.queue.lastSeq,
    registrySha256: sha256(registryJson),
  };
  const counts: Manifest['counts'] = {};
  const files: CapturedFile[] = [];
  const add = (part: StatePart, json: string) =>
    files.push({ name: FILE_OF[part], part, data: Buffer.from(json) });
  if (parts.includes('queue')) {
    const snapshot = sources.queue.snapshotJson();
    add('queue', snapshot.json);
    const byState: Partial<Record<TaskState, number>> = {};
    let total = 0;
    for (const task of sources.queue.tasks()) {
      byState[task.state] = (byState[task.state] ?? 0) + 1;
      total += 1;
    }
    counts.tasks = total;
    counts.tasksByState = byState;
  }
  if (parts.includes('registry')) {
    add('registry', registryJson);
    counts.bots = Object.keys(sources.registry.data.bots).length;
    counts.scaleOverrides = Object.keys(sources.registry.data.scale).length;
  }
  if (parts.includes('assignments')) {
    const doc = projectAssignments(sources.queue.tasks(), sources.registry.data, revision.queueSeq);
    add('assignments', JSON.stringify(doc));
    counts.assignments = Object.values(doc.bots).reduce((n, b) => n + b.tasks.length, 0);
  }
  return { revision, counts, files };
}
