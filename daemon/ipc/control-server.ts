import { chmodSync } from 'node:fs';
import { IPCModule, type IpcSocket } from 'node-ipc';
import { HiveError, toWireError } from '../../protocol/errors.ts';
import type { Actor, ResponseData } from '../../protocol/wire.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logs/log-hub.ts';
import { HiveFrameParser, PROTOCOL_ERROR_EVENT, type ProtocolErrorData } from './frame-parser.ts';
import type { CommandRouter } from './router.ts';

export type IpcLimits = Config['ipc'];

export interface ControlServerOptions extends IpcLimits {
  socketPath: string;
  /** hived's own run folder (0700). node-ipc enforces the mode only on a socket inside it. */
  runDir: string;
}

interface Connection {
  id: number;
  socket: IpcSocket;
  /** Open requests by id, to abort on disconnect or cancel. */
  open: Map<string | number, AbortController>;
}

/**
 * The control socket: node-ipc with hive's frame parser on a Unix socket,
 * mode 0600 in a 0700 folder. Requests run concurrently per connection;
 * nothing a client sends can throw out of here.
 */
export class ControlServer implements ConfigApplier {
  readonly configPart = 'ipc';
  readonly configKeys = ['ipc'];
  #options: ControlServerOptions;
  readonly #router: CommandRouter;
  readonly #log: Logger;
  readonly #ipc = new IPCModule();
  readonly #connections = new Map<IpcSocket, Connection>();
  #nextConnection = 1;
  #listening = false;

  constructor(options: ControlServerOptions, deps: { router: CommandRouter; log: Logger }) {
    this.#options = options;
    this.#router = deps.router;
    this.#log = deps.log;
  }

  get connections(): number {
    return this.#connections.size;
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      this.setLimits(next.config.ipc);
      return undefined;
    };
  }

  /**
   * Changes the limits live. node-ipc reads them from its one parser per
   * server at each frame and each write, and net.Server reads maxConnections
   * at each accept; connections keep working across the change.
   */
  setLimits(limits: IpcLimits): void {
    this.#options = { ...this.#options, ...limits };
    const config = this.#ipc.config;
    config.maxMessageSize = limits.maxFrameBytes;
    config.maxPendingBytes = limits.maxPendingBytes;
    config.messageTimeout = limits.frameTimeoutMs;
    config.maxConnections = limits.maxClients;
    if (!this.#listening) return;
    const server = this.#ipc.server;
    server.parser.maxMessageSize = limits.maxFrameBytes;
    server.parser.maxPendingBytes = limits.maxPendingBytes;
    server.parser.messageTimeout = limits.frameTimeoutMs;
    if (server.server) server.server.maxConnections = limits.maxClients;
  }

  /** Starts listening; resolves once the socket accepts connections. */
  listen(): Promise<void> {
    const { socketPath } = this.#options;
    const config = this.#ipc.config;
    config.silent = true;
    config.parser = HiveFrameParser;
    config.maxMessageSize = this.#options.maxFrameBytes;
    config.maxPendingBytes = this.#options.maxPendingBytes;
    config.messageTimeout = this.#options.frameTimeoutMs;
    config.maxConnections = this.#options.maxClients;
    // Never point socketRoot at a shared folder such as /tmp: node-ipc would
    // chmod it to 0700. A --socket outside runDir keeps its folder as it is.
    config.socketRoot = `${this.#options.runDir}/`;
    config.secureSocketRoot = true;
    // The daemon holds the state lock before it gets here, so a socket file
    // left at this path belongs to a dead daemon and may be replaced.
    config.unlink = true;
    return new Promise((resolve, reject) => {
      this.#ipc.serve(socketPath, () => {
        chmodSync(socketPath, 0o600);
        this.#listening = true;
        resolve();
      });
      const server = this.#ipc.server;
      server.on('connect', (socket) => this.#onConnect(socket));
      server.on('socket.disconnected', (socket) => this.#onDisconnect(socket));
      server.on('request', (data, socket) => this.#guard(() => this.#onRequest(data, socket)));
      server.on('cancel', (data, socket) => this.#guard(() => this.#onCancel(data, socket)));
      server.on(PROTOCOL_ERROR_EVENT, (data, socket) =>
        this.#guard(() => this.#onProtocolError(data as ProtocolErrorData, socket)),
      );
      server.on('error', (error) => {
        if (!this.#listening) reject(error);
        else this.#log.debug(`ipc: ${error.message}`);
      });
      server.start();
    });
  }

  /** Handlers run inside node-ipc's data callback: an exception there would crash the daemon. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error(`ipc handler failed: ${String(error)}`);
    }
  }

  #onConnect(socket: IpcSocket): void {
    this.#connections.set(socket, { id: this.#nextConnection++, socket, open: new Map() });
  }

  #onDisconnect(socket: IpcSocket): void {
    const connection = this.#connections.get(socket);
    if (!connection) return;
    this.#connections.delete(socket);
    for (const controller of connection.open.values())
      controller.abort(new HiveError('HIVE_IPC_CLOSED', 'client disconnected'));
  }

  #onRequest(data: unknown, socket: IpcSocket): void {
    const connection = this.#connections.get(socket);
    if (!connection) return;
    const request = data as { id?: unknown; cmd?: unknown; args?: unknown; actor?: unknown } | null;
    const id = request?.id;
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof request?.cmd !== 'string') {
      const safeId = typeof id === 'string' || typeof id === 'number' ? id : null;
      this.#respond(socket, {
        id: safeId,
        ok: false,
        error: {
          code: 'HIVE_IPC_BAD_REQUEST',
          message: 'request data needs "id" (string or number) and "cmd" (string)',
        },
      });
      return;
    }
    if (connection.open.has(id)) {
      this.#respond(socket, {
        id,
        ok: false,
        error: {
          code: 'HIVE_IPC_BAD_REQUEST',
          message: `request id ${JSON.stringify(id)} is already open on this connection`,
        },
      });
      return;
    }
    const controller = new AbortController();
    connection.open.set(id, controller);
    const ctx = {
      actor: toActor(request.actor),
      signal: controller.signal,
      emit: (event: unknown) => this.#emitEvent(socket, id, event),
    };
    this.#router
      .dispatch(request.cmd, request.args, ctx)
      .then(
        (result) => this.#respond(socket, { id, ok: true, result: result ?? null }),
        (error: unknown) => {
          if (!(error instanceof HiveError))
            this.#log.error(`command ${request.cmd} failed: ${String(error)}`, {
              stack: (error as Error)?.stack,
            });
          this.#respond(socket, { id, ok: false, error: toWireError(error) });
        },
      )
      .finally(() => connection.open.delete(id));
  }

  #onCancel(data: unknown, socket: IpcSocket): void {
    const id = (data as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    this.#connections
      .get(socket)
      ?.open.get(id)
      ?.abort(new HiveError('HIVE_IPC_CANCELLED', 'cancelled by the client'));
  }

  #onProtocolError(problem: ProtocolErrorData, socket: IpcSocket): void {
    this.#log.debug(`ipc: ${problem.code}: ${problem.message}`);
    this.#respond(socket, {
      id: problem.id,
      ok: false,
      error: { code: problem.code, message: problem.message },
    });
    if (problem.fatal) {
      // Stop parsing what follows; the answer is flushed before the close.
      socket.removeAllListeners('data');
      socket.end();
    }
  }

  #respond(socket: IpcSocket, data: ResponseData): void {
    if (socket.destroyed || !this.#connections.has(socket)) return;
    try {
      this.#ipc.server.emit(socket, 'response', data);
    } catch (error) {
      // Usually a result larger than the frame limit: say so instead.
      const message =
        (error as { code?: string }).code === 'ERR_IPC_FRAME_TOO_LARGE'
          ? 'the response exceeds the maximum frame size; ask for less (for example a smaller --limit)'
          : `response could not be encoded: ${String(error)}`;
      this.#ipc.server.emit(socket, 'response', {
        id: data.id,
        ok: false,
        error: { code: 'HIVE_IPC_FRAME_TOO_LARGE', message },
      });
    }
  }

  #emitEvent(socket: IpcSocket, id: string | number, event: unknown): void {
    if (socket.destroyed || !this.#connections.has(socket)) return;
    try {
      this.#ipc.server.emit(socket, 'event', { id, event });
    } catch (error) {
      this.#log.debug(`ipc: event dropped: ${String(error)}`);
    }
  }

  /** Stops accepting connections and ends the open ones. */
  async close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    for (const connection of this.#connections.values()) {
      for (const controller of connection.open.values())
        controller.abort(new HiveError('HIVE_DAEMON_STOPPING', 'daemon stopping'));
    }
    // Let the aborted requests send their answers before the sockets end.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const server = this.#ipc.server.server;
    const closed = new Promise<void>((resolve) => {
      if (server) server.close(() => resolve());
      else resolve();
    });
    for (const socket of this.#connections.keys()) socket.end();
    setTimeout(() => {
      for (const socket of this.#connections.keys()) socket.destroy();
    }, this.#options.closeGraceMs).unref();
    await Promise.race([
      closed,
      new Promise((resolve) => setTimeout(resolve, this.#options.closeTimeoutMs).unref()),
    ]);
  }
}

function toActor(value: unknown): Actor {
  const raw = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const actor: Actor = {
    user: typeof raw.user === 'string' ? raw.user.slice(0, 64) : 'unknown',
    via: 'socket',
  };
  if (typeof raw.uid === 'number') actor.uid = raw.uid;
  if (typeof raw.pid === 'number') actor.pid = raw.pid;
  return actor;
}
