import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from '../logs/log-hub.ts';

/** What hived tells the supervisor that runs it (systemd, pm2). */
export interface ServiceNotifier {
  /** The control socket listens: the daemon is ready for clients. */
  ready(status: string): void;
  /** Sent only when it differs from the status systemd shows (after READY= and STOPPING= too). */
  status(text: string): void;
  /** A watchdog keep-alive; only sent by a supervision loop that is healthy. */
  watchdog(): void;
  stopping(status: string): void;
  /** Period for watchdog keep-alives (half systemd's WatchdogSec), or undefined when off. */
  readonly watchdogIntervalMs: number | undefined;
}

interface DgramSocketLike {
  sendTo(
    buf: Buffer,
    offset: number,
    length: number,
    path: string,
    cb?: (err?: Error) => void,
  ): void;
  close(): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

type Send = (message: string) => void;

/**
 * Node has no Unix datagram sockets. node-unix-socket ships a prebuilt
 * linux-x64 addon (no compiler needed); when it cannot load, hived falls
 * back to the `systemd-notify` tool, which needs NotifyAccess=all.
 */
function datagramSender(socketPath: string, log: Logger): Send {
  const target = socketPath.startsWith('@') ? `\0${socketPath.slice(1)}` : socketPath;
  try {
    const require = createRequire(import.meta.url);
    const { DgramSocket } = require('node-unix-socket') as {
      DgramSocket: new () => DgramSocketLike;
    };
    const socket = new DgramSocket();
    socket.on('error', (error) => log.warn(`sd_notify: ${error.message}`));
    return (message) => {
      const buf = Buffer.from(message);
      socket.sendTo(buf, 0, buf.length, target, (error) => {
        if (error) log.warn(`sd_notify send failed: ${error.message}`);
      });
    };
  } catch (error) {
    log.warn(`node-unix-socket unavailable (${String(error)}); using systemd-notify`);
    return (message) => {
      execFile('systemd-notify', [`--pid=${process.pid}`, ...message.split('\n')], (err) => {
        if (err) log.warn(`systemd-notify failed: ${err.message}`);
      });
    };
  }
}

export function createNotifier(env: NodeJS.ProcessEnv, log: Logger): ServiceNotifier {
  const socketPath = env.NOTIFY_SOCKET;
  const send: Send | undefined = socketPath ? datagramSender(socketPath, log) : undefined;
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogForUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  const underPm2 = typeof process.send === 'function' && env.pm_id !== undefined;
  // The STATUS= text systemd shows now: READY= and STOPPING= set it too, so
  // a status equal to the one before them is still sent after them.
  let shown: string | undefined;
  return {
    ready(status) {
      shown = status;
      send?.(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
      // pm2's wait_ready waits for this message.
      if (underPm2) process.send?.('ready');
    },
    status(text) {
      if (text === shown) return;
      shown = text;
      send?.(`STATUS=${text}`);
    },
    watchdog() {
      send?.('WATCHDOG=1');
    },
    stopping(status) {
      shown = status;
      send?.(`STOPPING=1\nSTATUS=${status}`);
    },
    watchdogIntervalMs:
      send && watchdogForUs && watchdogUsec > 0
        ? Math.max(100, Math.floor(watchdogUsec / 2000))
        : undefined,
  };
}
