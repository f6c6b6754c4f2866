// node-ipc 14 ships no types: these cover what hive uses (server side and parsers).
declare module 'node-ipc' {
  import type { Server as NetServer, Socket } from 'node:net';

  export interface IpcConfig {
    appspace: string;
    socketRoot: string;
    id: string;
    silent: boolean;
    unlink: boolean;
    parser: string | (new (config: IpcConfig) => unknown) | object;
    delimiter: string;
    maxMessageSize: number;
    maxPendingBytes: number;
    maxEventNameLength: number;
    messageTimeout: number;
    maxConnections: number;
    readableAll: boolean;
    writableAll: boolean;
    secureSocketRoot: boolean;
    logger: (...args: unknown[]) => void;
  }

  export interface IpcSocket extends Socket {
    ipcBuffer: string;
  }

  export interface IpcServer {
    server: NetServer | false;
    /** The one parser of the server; its limits are read at each frame and write. */
    parser: { maxMessageSize: number; maxPendingBytes: number; messageTimeout: number };
    sockets: IpcSocket[];
    on(event: 'start', handler: () => void): IpcServer;
    on(event: 'connect', handler: (socket: IpcSocket) => void): IpcServer;
    on(event: 'socket.disconnected', handler: (socket: IpcSocket, id: unknown) => void): IpcServer;
    on(event: 'error', handler: (error: Error) => void): IpcServer;
    on(event: string, handler: (data: unknown, socket: IpcSocket) => void): IpcServer;
    emit(socket: IpcSocket, type: string, data: unknown): boolean;
    start(): void;
    stop(): void;
  }

  export class IPCModule {
    config: IpcConfig;
    server: IpcServer;
    serve(path: string, callback?: () => void): void;
  }

  export class IPCProtocolError extends Error {
    code: string;
    constructor(code: string, message: string);
  }

  export class GuardedParser {
    constructor(config: IpcConfig);
    profile: string;
    delimiter: string;
    maxMessageSize: number;
    maxPendingBytes: number;
    messageTimeout: number;
    encode(type: string, data: unknown): string;
    read(
      buffer: string,
      data: string,
      receive: (message: { type: string; data: unknown }) => void,
    ): string;
    decodeMessage(frame: string): { type: string; data: unknown };
    assertFrameSize(characters: number, bytes: number): void;
  }

  const ipc: IPCModule;
  export default ipc;
}
