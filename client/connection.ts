import { connect, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { HiveError, isErrorCode } from '../protocol/errors.ts';
import { type Actor, encodeFrame, splitFrames } from '../protocol/wire.ts';

interface Pending {
  resolve(result: unknown): void;
  reject(error: HiveError): void;
  onEvent?: (event: unknown) => void;
}

export interface RequestOptions {
  onEvent?: (event: unknown) => void;
  /** Give up (HIVE_IPC_TIMEOUT) when no answer came within this many ms. */
  timeoutMs?: number;
}

function currentActor(): Actor {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { user, uid: process.getuid?.() ?? -1, pid: process.pid };
}

/**
 * A client of the control socket on a plain `net` socket: the framing is
 * simple enough that the client does not need node-ipc, which keeps
 * `hive status` close to the cost of starting Node.
 */
export class Connection {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #actor = currentActor();
  #buffer = '';
  #nextId = 1;
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closed = true;
        for (const pending of this.#pending.values()) {
          pending.reject(
            new HiveError('HIVE_IPC_CLOSED', 'the daemon closed the connection before answering'),
          );
        }
        this.#pending.clear();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  static open(path: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(new Connection(socket));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => reject(unreachable(path, error)));
    });
  }

  #onData(chunk: string): void {
    const { frames, rest } = splitFrames(this.#buffer + chunk);
    this.#buffer = rest;
    for (const frame of frames) {
      let envelope: {
        type?: string;
        data?: { id?: unknown; event?: unknown; ok?: boolean; result?: unknown; error?: unknown };
      };
      try {
        envelope = JSON.parse(frame);
      } catch {
        continue;
      }
      const data = envelope.data;
      const pending = typeof data?.id === 'number' ? this.#pending.get(data.id) : undefined;
      if (!pending || !data) continue;
      if (envelope.type === 'event') {
        pending.onEvent?.(data.event);
      } else if (envelope.type === 'response') {
        this.#pending.delete(data.id as number);
        if (data.ok) pending.resolve(data.result);
        else pending.reject(toHiveError(data.error));
      }
    }
  }

  /** Sends one request; resolves with its result or rejects with the daemon's coded error. */
  request(
    cmd: string,
    args: Record<string, unknown> = {},
    options: RequestOptions = {},
  ): Promise<unknown> {
    if (this.#closed)
      return Promise.reject(new HiveError('HIVE_IPC_CLOSED', 'connection is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve,
        reject,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      });
      this.#socket.write(encodeFrame('request', { id, cmd, args, actor: this.#actor }));
    });
  }

  /** Asks the daemon to end an open request (a follow stream). */
  cancel(): void {
    for (const id of this.#pending.keys()) this.#socket.write(encodeFrame('cancel', { id }));
  }

  close(): void {
    this.#socket.end();
  }
}

function toHiveError(error: unknown): HiveError {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = isErrorCode(e.code) ? e.code : 'HIVE_DAEMON_INTERNAL';
  return new HiveError(
    code,
    typeof e.message === 'string' ? e.message : 'unknown error',
    e.details,
  );
}

function unreachable(path: string, error: NodeJS.ErrnoException): HiveError {
  const how = 'start it with "npm start" in the hive folder, or "hived --state-dir DIR"';
  switch (error.code) {
    case 'ENOENT':
      return new HiveError(
        'HIVE_IPC_UNREACHABLE',
        `hived is not running (no socket at ${path}); ${how}`,
      );
    case 'ECONNREFUSED':
      return new HiveError(
        'HIVE_IPC_UNREACHABLE',
        `hived is not running (stale socket at ${path}); ${how}`,
      );
    case 'EACCES':
    case 'EPERM':
      return new HiveError(
        'HIVE_IPC_UNREACHABLE',
        `permission denied on ${path}; run hive as the user that runs hived`,
      );
    default:
      return new HiveError(
        'HIVE_IPC_UNREACHABLE',
        `cannot reach hived at ${path}: ${error.message}`,
      );
  }
}
