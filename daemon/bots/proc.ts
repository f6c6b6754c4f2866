import { readFileSync } from 'node:fs';

/**
 * Reads process facts from /proc directly: spawning `ps` every second for
 * every bot would cost more than the bots. Returns undefined when the
 * process is gone (or /proc is missing, as on macOS).
 */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const at = status.indexOf('VmRSS:');
    if (at === -1) return undefined;
    const kb = Number.parseInt(status.slice(at + 6, status.indexOf('\n', at)), 10);
    return Number.isFinite(kb) ? kb * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface ProcStat {
  /** Start time in clock ticks after boot: with the pid, identifies one process incarnation. */
  startTicks: number;
  /** User + system CPU time in clock ticks. */
  cpuTicks: number;
  processGroup: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); field N is fields[N - 3].
    return {
      processGroup: Number(fields[2]),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      startTicks: Number(fields[19]),
    };
  } catch {
    return undefined;
  }
}

/** Sends a signal to a whole process group; false when none of it is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
