/** Small process helpers for integration tests. */
import { readFileSync } from 'node:fs';
import type { DaemonHandle } from './daemon.ts';

/** True while a process with this pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // "pid (comm) S ...": a zombie has exited, only its parent has not reaped it yet.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of a started daemon (spawn succeeded, so it has one). */
export function pidOf(daemon: DaemonHandle): number {
  const pid = daemon.process.pid;
  if (pid === undefined) throw new Error('hived has no pid: it failed to spawn');
  return pid;
}
