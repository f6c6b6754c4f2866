/**
 * Helpers for tests of bots and tasks against a real hived: typed views of
 * tasks and bots, waits on final states, and process checks through /proc.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BotView } from '../../protocol/views.ts';
import type { DaemonHandle } from './daemon.ts';
import { status, waitFor } from './daemon.ts';

export interface TaskAttempt {
  bot: string;
  token: number;
  startedAt: number;
  endedAt?: number;
  outcome?: 'done' | 'error' | 'timeout' | 'crash' | 'requeued';
  error?: string;
}

export interface TaskView {
  id: string;
  type: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'dead' | 'cancelled';
  attempts: number;
  maxAttempts: number;
  priority: number;
  key?: string;
  result?: unknown;
  error?: { reason: string; message: string };
  bot?: string;
  timeoutMs: number;
  finishedAt?: number;
  history: TaskAttempt[];
}

export type { BotView } from '../../protocol/views.ts';

export interface SubmitAnswer {
  id: string;
  state: string;
  created: boolean;
}

export async function submit(
  daemon: DaemonHandle,
  type: string,
  args: Record<string, unknown> = {},
): Promise<SubmitAnswer> {
  return (await daemon.call('task.submit', { type, ...args })) as SubmitAnswer;
}

export async function getTask(daemon: DaemonHandle, id: string): Promise<TaskView> {
  return (await daemon.call('task.get', { id })) as TaskView;
}

const FINAL = new Set(['done', 'failed', 'dead', 'cancelled']);

/** Waits (on the daemon's own event, not by polling) until the task is final; returns its view. */
export async function waitFinal(
  daemon: DaemonHandle,
  id: string,
  timeoutMs = 15_000,
): Promise<TaskView> {
  const answer = (await daemon.call('task.wait', { id, timeoutMs })) as { timedOut?: boolean };
  const task = await getTask(daemon, id);
  if (answer.timedOut || !FINAL.has(task.state)) {
    throw new Error(`task ${id} not final after ${timeoutMs} ms: ${JSON.stringify(task)}`);
  }
  return task;
}

/** Polls until the task is in `state` (e.g. running). */
export function waitTaskState(
  daemon: DaemonHandle,
  id: string,
  state: TaskView['state'],
  timeoutMs = 15_000,
): Promise<TaskView> {
  return waitFor(
    async () => {
      const task = await getTask(daemon, id);
      return task.state === state ? task : undefined;
    },
    { timeoutMs, what: `task ${id} to be ${state}` },
  );
}

export async function bots(daemon: DaemonHandle): Promise<BotView[]> {
  return (await status(daemon)).bots;
}

export async function bot(daemon: DaemonHandle, name: string): Promise<BotView> {
  const found = (await bots(daemon)).find((b) => b.name === name);
  if (!found) throw new Error(`no bot ${name}`);
  return found;
}

/** Waits until the named bot matches `check` (state, pid, restarts...). */
export function waitBot(
  daemon: DaemonHandle,
  name: string,
  check: (bot: BotView) => boolean,
  { timeoutMs = 15_000, what = `bot ${name}` } = {},
): Promise<BotView> {
  return waitFor(
    async () => {
      const found = (await bots(daemon)).find((b) => b.name === name);
      return found && check(found) ? found : undefined;
    },
    { timeoutMs, intervalMs: 20, what },
  );
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until none of the pids is alive; the error names the ones still alive. */
export async function waitGone(pids: number[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > deadline) {
      throw new Error(
        `after ${timeoutMs} ms these pids are still alive: ${pids.filter(alive).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface FixtureMark {
  event: string;
  pid: number;
  at: number;
  /** performance.timeOrigin of the process: about when it was spawned. */
  origin: number;
  [field: string]: unknown;
}

/** The lines a fixture bot appended to its HIVE_FIXTURE_LOG file (see test/fixtures/bots/common.ts). */
export function readMarks(file: string): FixtureMark[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as FixtureMark);
}

/** Parsed lines of one of the daemon's JSON-lines streams (state/logs/NAME). */
export function readLog(daemon: DaemonHandle, name: string): Record<string, unknown>[] {
  const file = join(daemon.stateDir, 'logs', name);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The error code of a rejected daemon call. */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
  throw new Error('expected the call to fail');
}

/**
 * A file a fixture task waits for (payload.gate, see test/fixtures/bots/common.ts): the test
 * decides when a task may finish instead of guessing how long it takes.
 */
export function gate(dir: string, name = 'gate'): { path: string; open(): void } {
  const path = join(dir, name);
  return { path, open: () => writeFileSync(path, 'open\n') };
}
