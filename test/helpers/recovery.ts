/** Helpers for the recovery tests: the real `hive` CLI against a state directory. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliResult, type DaemonHandle, runHive, waitFor } from './daemon.ts';

/** Runs `hive ARGS --state-dir DIR`; JSON output parsed when --json is among the args. */
export async function hive(
  stateDir: string,
  args: string[],
): Promise<CliResult & { json: unknown }> {
  const result = await runHive([...args, '--state-dir', stateDir]);
  let json: unknown;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '');
    } catch {
      json = undefined;
    }
  }
  return { ...result, json };
}

export interface BackupRow {
  id: string;
  kind: string;
  source: string;
  tag?: string;
  restorePoint?: { name: string; description: string };
  revision: { queueSeq: number };
  check?: { ok: boolean; problems: string[] };
}

export async function backups(daemon: DaemonHandle): Promise<BackupRow[]> {
  return ((await daemon.call('backup.ls')) as { backups: BackupRow[] }).backups;
}

/** Flips one bit of one byte in the middle of a file (size and name unchanged). */
export function flipByte(path: string): void {
  const data = readFileSync(path);
  const at = Math.floor(data.length / 2);
  data[at] = (data[at] as number) ^ 0x01;
  writeFileSync(path, data);
}

/** id → state of every task the daemon holds. */
export async function taskStates(daemon: DaemonHandle): Promise<Map<string, string>> {
  const { tasks } = (await daemon.call('task.ls', { limit: 10_000 })) as {
    tasks: { id: string; state: string }[];
  };
  return new Map(tasks.map((t) => [t.id, t.state]));
}

export async function submit(
  daemon: DaemonHandle,
  args: Record<string, unknown> = {},
): Promise<string> {
  const answer = (await daemon.call('task.submit', { type: 'echo', ...args })) as { id: string };
  return answer.id;
}

/** Waits until hived printed that it froze at a test pause point. */
export function waitForPause(daemon: DaemonHandle, point: string): Promise<true> {
  return waitFor(() => daemon.output().includes(`HIVE_TEST_PAUSED ${point}`) || undefined, {
    what: `hived to pause at ${point}`,
  });
}

export function dbFiles(stateDir: string): string[] {
  return readdirSync(join(stateDir, 'db')).sort();
}

/** A logger that drops everything (parts under test log through it). */
export function silentLog() {
  const nothing = () => {};
  return { error: nothing, warn: nothing, info: nothing, debug: nothing, event: nothing };
}
