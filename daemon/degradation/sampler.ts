import { readFileSync, statfsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Where the resource monitor's readings come from. The default reads the
 * real machine (/proc, statfs, the event loop); tests inject their own to
 * drive the signals.
 */
export interface Sampler {
  /** Host memory pressure 0–1, and where it came from. */
  memory(): Reading | undefined;
  /** Host CPU pressure 0–1. */
  cpu(): Reading | undefined;
  /** Used share of the filesystem holding `dir`, as df counts it. */
  disk(dir: string): (Reading & { freeBytes: number }) | undefined;
  /** p99 of the event-loop delay since the last call, in seconds (the window then restarts). */
  eventLoopP99(): number;
  /** CPU time and RSS of a process, or undefined when it is gone. */
  process(pid: number): ProcessReading | undefined;
  /** Stops whatever the sampler runs in the background. */
  close(): void;
}

export interface Reading {
  value: number;
  source: string;
}

export interface ProcessReading {
  cpuSeconds: number;
  rssBytes: number;
}

/** `some avg10` of a /proc/pressure file as a share 0–1. */
export function parsePsiSome(text: string): number | undefined {
  const match = /^some avg10=([\d.]+)/m.exec(text);
  return match ? Number(match[1]) / 100 : undefined;
}

/** 1 − MemAvailable/MemTotal from /proc/meminfo. */
export function parseMemInfo(text: string): number | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const total = field('MemTotal');
  const available = field('MemAvailable');
  if (!total || available === undefined) return undefined;
  return Math.min(1, Math.max(0, 1 - available / total));
}

/** The 1-minute load average of /proc/loadavg. */
export function parseLoadAvg(text: string): number | undefined {
  const first = Number(text.split(' ')[0]);
  return Number.isFinite(first) ? first : undefined;
}

/** CPU seconds (utime + stime) and RSS bytes from /proc/<pid>/stat. */
export function parseProcStat(text: string, ticksPerSecond: number, pageBytes: number) {
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field N is fields[N - 3].
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  if (!Number.isFinite(ticks) || !Number.isFinite(rssPages)) return undefined;
  return { cpuSeconds: ticks / ticksPerSecond, rssBytes: rssPages * pageBytes };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** Linux's USER_HZ and page size: fixed on every architecture Node runs on but a few exotic ones. */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;
/**
 * The histogram's timer period. It records whole intervals between its
 * ticks, so an idle loop reads as this much; it is subtracted. 50 ms: 20
 * wake-ups a second; at 20 ms the timer alone took 0.4 % of a core on an
 * idle VM (bench/degradation.ts), and delays worth acting on are far longer.
 */
const LOOP_RESOLUTION_MS = 50;

/**
 * The real machine. PSI where the kernel has it (4.20+, not disabled),
 * else the older measures; the event-loop delay from a histogram that is
 * reset at every read, so a p99 is the last window's and not the
 * process lifetime's.
 */
export class SystemSampler implements Sampler {
  readonly #loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  readonly #cores = availableParallelism();

  constructor() {
    this.#loop.enable();
  }

  memory(): Reading | undefined {
    const psi = parsePsiSome(readText('/proc/pressure/memory') ?? '');
    if (psi !== undefined) return { value: psi, source: 'psi' };
    const used = parseMemInfo(readText('/proc/meminfo') ?? '');
    return used === undefined ? undefined : { value: used, source: 'meminfo' };
  }

  cpu(): Reading | undefined {
    const psi = parsePsiSome(readText('/proc/pressure/cpu') ?? '');
    if (psi !== undefined) return { value: psi, source: 'psi' };
    const load = parseLoadAvg(readText('/proc/loadavg') ?? '');
    return load === undefined
      ? undefined
      : { value: Math.min(1, load / this.#cores), source: 'loadavg' };
  }

  disk(dir: string): (Reading & { freeBytes: number }) | undefined {
    try {
      const fs = statfsSync(dir);
      const used = fs.blocks - fs.bfree;
      const usable = used + fs.bavail;
      if (usable <= 0) return undefined;
      return { value: used / usable, source: 'statfs', freeBytes: fs.bavail * fs.bsize };
    } catch {
      return undefined;
    }
  }

  eventLoopP99(): number {
    const p99 = this.#loop.count > 0 ? this.#loop.percentile(99) / 1e9 : 0;
    this.#loop.reset();
    return Math.max(0, p99 - LOOP_RESOLUTION_MS / 1000);
  }

  process(pid: number): ProcessReading | undefined {
    const text = readText(`/proc/${pid}/stat`);
    return text === undefined ? undefined : parseProcStat(text, TICKS_PER_SECOND, PAGE_BYTES);
  }

  close(): void {
    this.#loop.disable();
  }
}
