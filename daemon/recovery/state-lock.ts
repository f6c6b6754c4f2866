import { createHash } from 'node:crypto';
import { realpathSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HiveError } from '../../protocol/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../core/atomic-file.ts';

export interface LockInfo {
  pid: number;
  startedAt: string;
  hostname: string;
  socket: string;
}

/**
 * One daemon per state directory. The lock itself is a Linux abstract Unix
 * socket named after the state directory's real path: binding it is atomic
 * and the kernel releases it when the process dies, even by SIGKILL, so a
 * crash never leaves a stale lock to clean up and two starting daemons can
 * never both win. `run/hived.lock` only records who holds it, for humans and
 * error messages. Abstract sockets are per network namespace, so the live
 * control socket is probed as well.
 */
export class StateLock {
  readonly #server: Server;
  readonly #file: string;

  private constructor(server: Server, file: string) {
    this.#server = server;
    this.#file = file;
  }

  static async acquire(
    stateDir: string,
    runDir: string,
    socketPath: string,
    options: { probeTimeoutMs: number },
  ): Promise<StateLock> {
    const real = realpathSync(stateDir);
    const name = `\0hive-state-${createHash('sha256').update(real).digest('hex').slice(0, 40)}`;
    const file = join(runDir, 'hived.lock');
    const server = createServer((socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: name }, () => resolve());
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw await lockedError(real, file);
    }
    server.unref();
    if (await socketAnswers(socketPath, options.probeTimeoutMs)) {
      server.close();
      // Not necessarily this state directory's daemon (--socket may point at another's).
      throw new HiveError(
        'HIVE_DAEMON_LOCKED',
        `a running hived already answers on ${socketPath}; stop it with "hive stop --socket ${socketPath}" or use another --socket`,
      );
    }
    const info: LockInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      hostname: hostname(),
      socket: socketPath,
    };
    await writeFileAtomic(file, `${JSON.stringify(info)}\n`, 0o644);
    return new StateLock(server, file);
  }

  release(): void {
    try {
      unlinkSync(this.#file);
    } catch {
      // already gone
    }
    this.#server.close();
  }
}

async function lockedError(stateDir: string, file: string): Promise<HiveError> {
  let holder = 'another hived';
  try {
    const info = JSON.parse((await readFileIfExists(file)) ?? '{}') as Partial<LockInfo>;
    if (info.pid) holder = `hived pid ${info.pid} (since ${info.startedAt ?? '?'})`;
  } catch {
    // unreadable lock info: keep the generic holder
  }
  return new HiveError(
    'HIVE_DAEMON_LOCKED',
    `${holder} already owns state directory ${stateDir}; stop it with "hive stop" or use another --state-dir`,
  );
}

/** True when a daemon answers on the control socket (the socket file alone proves nothing). */
function socketAnswers(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(timeoutMs, () => done(false));
  });
}
