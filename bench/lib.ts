/**
 * Shared pieces of the benchmarks: real daemons on temporary state
 * directories, child-process bookkeeping (nothing outlives `npm run bench`),
 * statistics and /proc readers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../client/connection.ts';
import type { BotView } from '../protocol/views.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const HIVED = join(ROOT, 'daemon', 'hived.js');
export const HIVE = join(ROOT, 'client', 'hive.js');
export const ECHO_BOT = join(ROOT, 'bots', 'echo.ts');
export const NODE = process.execPath;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Cleanup: every child and temp dir is registered; all go on exit or signal.

/**
 * Marks every process of this run: children inherit the environment (hived
 * passes it on to bots and helpers, pm2 to its God daemon and apps), so a
 * scan of /proc finds anything of ours that outlived the run, even a
 * detached grandchild.
 */
export const RUN_MARK = `HIVE_BENCH_RUN=${randomBytes(6).toString('hex')}`;
process.env.HIVE_BENCH_RUN = RUN_MARK.slice('HIVE_BENCH_RUN='.length);

/** Live processes (other than this one) that carry this run's mark. */
export function markedProcesses(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (environ.split('\0').includes(RUN_MARK) && isAlive(pid)) found.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function tempDir(prefix = 'hive-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * Synchronous last resort: SIGKILL whatever of this run is still running
 * (children not yet exited, and marked processes: never a bare pid that may
 * have been reused by someone else's process), remove temp dirs.
 */
export function killEverything(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  for (const pid of markedProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.once('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killEverything();
    process.exit(130);
  });
}

/** True when the pid names a live process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

// ---------------------------------------------------------------------------
// Statistics

export interface Summary {
  n: number;
  min: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, x) => sum + x, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? total / sorted.length : Number.NaN,
  };
}

export const round = (x: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

// ---------------------------------------------------------------------------
// /proc

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, RssAnon, ...). */
export function procStatusKb(pid: number, field: string): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function rssMb(pid: number): number | undefined {
  const kb = procStatusKb(pid, 'VmRSS');
  return kb === undefined ? undefined : kb / 1024;
}

// ---------------------------------------------------------------------------
// Daemons

export type { BotView } from '../protocol/views.ts';

export interface StatusView {
  daemon: { pid: number; uptimeMs: number };
  bots: BotView[];
  queue: Record<string, number>;
}

export interface Daemon {
  stateDir: string;
  socket: string;
  pid: number;
  child: ChildProcess;
  /** One request on a fresh connection. */
  call(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
  connect(): Promise<Connection>;
  status(): Promise<StatusView>;
  /** Tail of what the daemon wrote to stdout/stderr (for failure messages). */
  output(): string;
  /** SIGTERM, wait for a clean exit (SIGKILL after `timeoutMs`), check no bot survived. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface DaemonOptions {
  instances?: number;
  concurrency?: number;
  /** Extra config merged at the top level (queue, supervision...). */
  extra?: Record<string, unknown>;
  /** Extra settings of the echo kind (restart policy...). */
  echo?: Record<string, unknown>;
  /** Node flags for hived (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Extra environment variables for hived. */
  env?: NodeJS.ProcessEnv;
  /** More bot kinds beside echo (name → kind config). */
  bots?: Record<string, unknown>;
  /** Ready bots to wait for (default: the echo instances). */
  ready?: number;
}

/** The config every benchmark daemon runs: 4 echo bots as in the embedded default's echo kind. */
export function benchConfig(options: DaemonOptions): Record<string, unknown> {
  return {
    daemon: { logConsole: 'text' },
    ...options.extra,
    bots: {
      echo: {
        command: ECHO_BOT,
        instances: options.instances ?? 4,
        concurrency: options.concurrency ?? 8,
        memoryLimitMb: 256,
        ...options.echo,
      },
      ...options.bots,
    },
  };
}

export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

/** Starts a real hived on a fresh temp state directory and waits for `instances` ready bots. */
export async function startDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  const dir = tempDir();
  const stateDir = join(dir, 'state');
  mkdirSync(join(stateDir, 'config'), { recursive: true });
  writeFileSync(join(stateDir, 'config', 'hive.yaml'), JSON.stringify(benchConfig(options)));
  const socket = join(stateDir, 'run', 'hived.sock');
  const outFile = join(dir, 'hived.out');
  const out = openSync(outFile, 'w');
  const child = track(
    spawn(NODE, [...(options.nodeFlags ?? []), HIVED, '--state-dir', stateDir], {
      cwd: dir,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', out, out],
    }),
  );
  closeSync(out);
  const pid = child.pid;
  if (!pid) throw new Error('hived did not start');
  const output = () => {
    try {
      return readFileSync(outFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const call = async (cmd: string, args: Record<string, unknown> = {}) => {
    const connection = await Connection.open(socket);
    try {
      return await connection.request(cmd, args);
    } finally {
      connection.close();
    }
  };
  const status = async () => (await call('status')) as StatusView;
  const instances = options.ready ?? options.instances ?? 4;
  const exited = exitOf(child);
  const stop = async (timeoutMs = 15_000) => {
    let bots: number[] = [];
    try {
      bots = (await status()).bots.flatMap((b) => (b.pid ? [b.pid] : []));
    } catch {
      // already down
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    if (code !== 0) process.stderr.write(`hived exited with ${code}\n${output()}\n`);
    await waitFor(
      () => (bots.some(isAlive) ? undefined : true),
      'bots to exit with their daemon',
      5_000,
    );
    removeTempDir(dir);
  };
  const died = exited.then((code) => {
    throw new Error(`hived exited during start (code ${code}):\n${output()}`);
  });
  died.catch(() => {});
  try {
    await Promise.race([
      died,
      waitFor(
        async () => {
          const s = await status();
          const ready = s.bots.filter((b) => b.state === 'ready').length;
          return ready >= instances ? s : undefined;
        },
        `hived with ${instances} ready bots`,
        30_000,
      ),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    removeTempDir(dir);
    throw error;
  }
  return {
    stateDir,
    socket,
    pid,
    child,
    call,
    connect: () => Connection.open(socket),
    status,
    output,
    stop,
  };
}

/** User + system CPU time of a process in ms (clock ticks of 10 ms). */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Machine-wide CPU times from /proc/stat, in ms: busy, idle (with iowait), steal. */
export function machineCpuMs(): { busy: number; idle: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, user, nice, system, idle, iowait, irq, softirq, steal] = line
    .split(/\s+/)
    .map((x) => Number(x) * 10);
  return {
    busy: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0),
    idle: (idle ?? 0) + (iowait ?? 0),
    steal: steal ?? 0,
  };
}

/** CPU use of some processes and the machine over a window: call once to start, once to end. */
export function cpuWindow(pids: Record<string, number[]>): () => CpuUse {
  const sum = (list: number[]) => list.reduce((s, p) => s + (cpuMs(p) ?? 0), 0);
  const start = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([k, list]) => [k, sum(list)]));
  const machineBefore = machineCpuMs();
  return () => {
    const wall = performance.now() - start;
    const machine = machineCpuMs();
    const processes: Record<string, number> = {};
    for (const [k, list] of Object.entries(pids))
      processes[k] = round(((sum(list) - (before[k] ?? 0)) / wall) * 100, 0);
    return {
      wallMs: Math.round(wall),
      processPercent: processes,
      machineBusyPercent: round(((machine.busy - machineBefore.busy) / wall) * 100, 0),
      machineIdlePercent: round(((machine.idle - machineBefore.idle) / wall) * 100, 0),
      otherPercent: round(
        ((machine.busy - machineBefore.busy) / wall) * 100 -
          Object.values(processes).reduce((a, b) => a + b, 0),
        0,
      ),
      stealPercent: round(((machine.steal - machineBefore.steal) / wall) * 100, 0),
    };
  };
}

export interface CpuUse {
  wallMs: number;
  /** CPU % per group of processes (100 = one core). */
  processPercent: Record<string, number>;
  /** Machine-wide, summed over cores (200 = both cores of a 2-core machine). */
  machineBusyPercent: number;
  machineIdlePercent: number;
  /** Machine busy minus the processes above: other work on the machine (and the kernel). */
  otherPercent: number;
  stealPercent: number;
}

/**
 * Lowest-priority busy loops, one per core: they keep every vCPU out of its
 * idle state (on a VM an idle vCPU halts, and waking it for the next message
 * costs tens of microseconds) while taking almost no CPU from real work.
 * A diagnostic: it shows how much of a latency is the machine's wake-up cost.
 */
export function startSpinners(count: number): () => Promise<void> {
  const spinners = Array.from({ length: count }, () =>
    track(spawn('nice', ['-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' })),
  );
  return async () => {
    for (const s of spinners) s.kill('SIGKILL');
    await Promise.all(spinners.map(exitOf));
  };
}

/** Machine-wide CPU busy % (100 = one core) over `ms`. */
export async function machineBusyPercent(ms = 500): Promise<number> {
  const before = machineCpuMs();
  const start = performance.now();
  await sleep(ms);
  const after = machineCpuMs();
  return round(((after.busy - before.busy) / (performance.now() - start)) * 100, 0);
}

/**
 * Waits (up to `maxMs`) until the machine is quiet: other work on a shared
 * machine skews every number. Resolves with the busy % last seen.
 */
export async function waitForQuiet(maxPercent = 25, maxMs = 20_000): Promise<number> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    const busy = await machineBusyPercent(500);
    if (busy <= maxPercent || performance.now() > deadline) return busy;
  }
}

/** CPU time (ms) of a process and its reaped children: utime + stime + cutime + cstime. */
function treeCpuMs(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU used by this run: this process, the children it reaped, and every live
 * process carrying the run's mark (a daemon's reaped bots are in its own
 * children's time). Processes that exit between two readings lose their last
 * slice, so it slightly undercounts.
 */
function runCpuMs(): number {
  return treeCpuMs('self') + markedProcesses().reduce((sum, pid) => sum + treeCpuMs(pid), 0);
}

export interface PhaseLoad {
  wallMs: number;
  /** Machine-wide busy CPU % (100 = one core). */
  machinePercent: number;
  /** This run's share of it. */
  runPercent: number;
  /** The rest: other work on the machine during the phase. */
  otherPercent: number;
}

/** Starts measuring a phase's CPU: call the result at the end. */
export function phaseLoad(): () => PhaseLoad {
  const start = performance.now();
  const machine = machineCpuMs().busy;
  const run = runCpuMs();
  return () => {
    const wall = performance.now() - start;
    const machinePercent = ((machineCpuMs().busy - machine) / wall) * 100;
    const runPercent = ((runCpuMs() - run) / wall) * 100;
    return {
      wallMs: Math.round(wall),
      machinePercent: round(machinePercent, 0),
      runPercent: round(runPercent, 0),
      otherPercent: round(Math.max(0, machinePercent - runPercent), 0),
    };
  };
}
