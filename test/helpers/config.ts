/**
 * Helpers for config tests: writing the config file the ways editors do,
 * and waiting for the daemon's record of each load in config-changes.jsonl.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConfigChangeRecord, ConfigStatus } from '../../protocol/config.ts';
import { type DaemonHandle, waitFor } from './daemon.ts';
import { readLog } from './fleet.ts';

export type Record_ = ConfigChangeRecord & { message: string };

export function mainFile(daemon: DaemonHandle): string {
  return join(daemon.stateDir, 'config', 'hive.yaml');
}

export function dropIn(daemon: DaemonHandle, name: string): string {
  return join(daemon.stateDir, 'config', 'conf.d', name);
}

/** An editor's atomic save: write a temp file beside it, rename it over the original. */
export function saveAtomic(path: string, content: string | Record<string, unknown>): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(temp, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  renameSync(temp, path);
}

/** Every load the daemon recorded so far (one line each in config-changes.jsonl). */
export function records(daemon: DaemonHandle): Record_[] {
  return readLog(daemon, 'config-changes.jsonl') as unknown as Record_[];
}

/**
 * Waits until `count` loads beyond the first `seen` are recorded and returns
 * them. Loads are recorded in the order they ran.
 */
export function nextRecords(
  daemon: DaemonHandle,
  seen: number,
  count = 1,
  timeoutMs = 10_000,
): Promise<Record_[]> {
  return waitFor(
    () => {
      const all = records(daemon);
      return all.length >= seen + count ? all.slice(seen) : undefined;
    },
    { timeoutMs, intervalMs: 10, what: `${count} config load(s) after the first ${seen}` },
  );
}

/** Runs `change` and returns the one load it causes. */
export async function loadAfter(daemon: DaemonHandle, change: () => void): Promise<Record_> {
  const seen = records(daemon).length;
  change();
  const [record] = await nextRecords(daemon, seen);
  return record as Record_;
}

export async function configStatus(daemon: DaemonHandle): Promise<ConfigStatus> {
  return (await daemon.call('config.status')) as ConfigStatus;
}

export async function configValue(daemon: DaemonHandle, key: string): Promise<unknown> {
  return ((await daemon.call('config.get', { key })) as { value: unknown }).value;
}
