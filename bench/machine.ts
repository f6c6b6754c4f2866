/** What the benchmarks ran on: CPU, cores, RAM, kernel, Node, the temp dir's file system. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type Summary, summarize } from './lib.ts';

export interface Machine {
  cpuModel: string;
  cores: number;
  ramGb: number;
  kernel: string;
  node: string;
  tmpdir: string;
  /** `df -T` of the temp dir (where the state dirs and journals live). */
  fileSystem: string;
  /** Append 300 bytes + fdatasync in the temp dir, 200 times: the journal's floor per group commit. */
  fdatasyncMs: Summary;
  date: string;
}

async function probeFdatasync(): Promise<Summary> {
  const dir = mkdtempSync(join(tmpdir(), 'hive-bench-sync-'));
  const handle = await open(join(dir, 'probe'), 'a');
  const samples: number[] = [];
  try {
    const line = `${'x'.repeat(299)}\n`;
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      await handle.write(line);
      await handle.datasync();
      samples.push(performance.now() - start);
    }
  } finally {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return summarize(samples);
}

export async function describeMachine(): Promise<Machine> {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // not Linux
  }
  let fileSystem = 'unknown';
  try {
    const lines = execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).trim().split('\n');
    const fields = lines.at(-1)?.split(/\s+/) ?? [];
    fileSystem = `${fields[0] ?? '?'} (${fields[1] ?? '?'})`;
  } catch {
    // no df
  }
  return {
    cpuModel,
    cores: cpus().length,
    ramGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    tmpdir: tmpdir(),
    fileSystem,
    fdatasyncMs: await probeFdatasync(),
    date: new Date().toISOString(),
  };
}
