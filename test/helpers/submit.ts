/**
 * Load helpers for integration tests: many submissions over real
 * connections, and a look at every task a daemon holds.
 */
import type { Connection } from '../../client/connection.ts';
import { HiveError } from '../../protocol/errors.ts';

export interface SubmitOutcome {
  /** Submissions the daemon acknowledged: index → task id. */
  acked: Map<number, string>;
  /** Sent, but the connection ended before an answer: may or may not exist. */
  lost: number[];
  /** Refused with a coded error (index → code), e.g. HIVE_DAEMON_STOPPING. */
  refused: Map<number, string>;
  /** Never sent because the connection had ended. */
  unsent: number[];
}

export interface SubmitManyOptions {
  /** Requests kept outstanding on one connection. */
  window?: number;
  type?: string;
  /** Called on each acknowledgement, synchronously (e.g. to kill the daemon at a count). */
  onAck?: (index: number, id: string) => void;
  /** Error codes that count as a refusal instead of failing the run. */
  refusable?: string[];
  /** What to send for an index (default: task.submit of `type` with payload `{ i }`). */
  request?: (index: number) => { cmd: string; args: Record<string, unknown> };
}

/**
 * Submits one task per index on `connection`, payload `{ i: index }` (or
 * sends what `options.request` builds), keeping `window` requests in flight. Stops issuing once the connection
 * ends; what was in flight then is `lost`.
 */
export async function submitMany(
  connection: Connection,
  indices: number[],
  options: SubmitManyOptions = {},
): Promise<SubmitOutcome> {
  const { window = 16, type = 'echo', onAck, refusable = [] } = options;
  const request =
    options.request ?? ((i: number) => ({ cmd: 'task.submit', args: { type, payload: { i } } }));
  const outcome: SubmitOutcome = {
    acked: new Map(),
    lost: [],
    refused: new Map(),
    unsent: [],
  };
  let next = 0;
  let broken = false;
  const worker = async () => {
    while (!broken && next < indices.length) {
      const index = indices[next++] as number;
      try {
        const { cmd, args } = request(index);
        const answer = (await connection.request(cmd, args)) as { id: string };
        outcome.acked.set(index, answer.id);
        onAck?.(index, answer.id);
      } catch (error) {
        if (error instanceof HiveError && error.code === 'HIVE_IPC_CLOSED') {
          broken = true;
          outcome.lost.push(index);
        } else if (error instanceof HiveError && refusable.includes(error.code)) {
          outcome.refused.set(index, error.code);
        } else {
          throw error;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  outcome.unsent = indices.slice(next);
  return outcome;
}

/** Splits 0..total-1 into `parts` interleaved slices. */
export function slices(total: number, parts: number): number[][] {
  const out: number[][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < total; i++) out[i % parts]?.push(i);
  return out;
}

export interface TaskDetail {
  id: string;
  type: string;
  state: string;
  attempts: number;
  result?: { echo?: { i?: number } };
  error?: { reason: string; message: string };
  history: { bot: string; token: number; outcome?: string; error?: string }[];
}

/** Every task the daemon holds, with its full history (`task.get` for each). */
export async function allTasks(connection: Connection): Promise<TaskDetail[]> {
  const { tasks } = (await connection.request('task.ls', { limit: 10_000 })) as {
    tasks: { id: string }[];
  };
  return Promise.all(
    tasks.map((t) => connection.request('task.get', { id: t.id }) as Promise<TaskDetail>),
  );
}

export function doneAttempts(task: TaskDetail): number {
  return task.history.filter((a) => a.outcome === 'done').length;
}
