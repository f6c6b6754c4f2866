import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logs/log-hub.ts';

type HttpConfig = Config['http'];

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * hived's HTTP server: /metrics now, the dashboard later (issue 10), on
 * loopback by default. Plain node:http behind `route()`: the dashboard may
 * swap in Fastify without changing who registers what. A port that is taken
 * does not stop hived: it logs, tries again every `listenRetryMs`, and
 * `hive status` says where (and whether) it listens. Host, port and
 * `enabled` apply live (the server moves).
 */
export class WebServer implements ConfigApplier {
  readonly configPart = 'web';
  readonly configKeys = ['http'];
  #config: HttpConfig;
  readonly #log: Logger;
  readonly #routes = new Map<string, RouteHandler>();
  #server: Server | undefined;
  #address: { host: string; port: number } | undefined;
  #lastError: string | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(config: HttpConfig, deps: { log: Logger }) {
    this.#config = config;
    this.#log = deps.log;
  }

  /** Serves GET (and HEAD) of `path` with `handler`. */
  route(path: string, handler: RouteHandler): void {
    this.#routes.set(path, handler);
  }

  /** Where it listens, or why not (for `hive status`). */
  get status(): { listening: { host: string; port: number } | null; error?: string } {
    return {
      listening: this.#address ?? null,
      ...(this.#lastError && !this.#address ? { error: this.#lastError } : {}),
    };
  }

  /** Tries to listen; resolves either way (a failure is retried in the background). */
  async start(): Promise<void> {
    if (!this.#config.enabled || this.#closed) return;
    // Loaded here, not at start-up: node:http adds ~6 MB to an idle hived, paid only when served.
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 5_000;
    const { host, port } = this.#config;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.#lastError = `cannot listen on ${host}:${port}: ${(error as Error).message}`;
      this.#log.warn(`http: ${this.#lastError}; trying again in ${this.#config.listenRetryMs} ms`);
      this.#retry = setTimeout(() => void this.start(), this.#config.listenRetryMs);
      this.#retry.unref();
      return;
    }
    server.on('error', (error) => this.#log.warn(`http: ${error.message}`));
    this.#server = server;
    const bound = server.address() as AddressInfo;
    this.#address = { host: bound.address, port: bound.port };
    this.#lastError = undefined;
    this.#log.info(`http: listening on http://${hostPort(bound.address, bound.port)}/`);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('cache-control', 'no-store');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handler = this.#routes.get(path);
    if (!handler) return end(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return end(res, 405, 'method not allowed\n');
    }
    try {
      await handler(req, res);
    } catch (error) {
      this.#log.error(`http: GET ${path} failed: ${String((error as Error)?.stack ?? error)}`);
      if (!res.headersSent) end(res, 500, 'internal error (see hived.log)\n');
      else res.destroy();
    }
  }

  prepareConfig(next: { config: Config }) {
    const config = next.config.http;
    return () => {
      const moved =
        config.enabled !== this.#config.enabled ||
        config.host !== this.#config.host ||
        config.port !== this.#config.port;
      this.#config = config;
      if (!moved) return undefined;
      void this.#stop().then(() => this.start());
      return [
        config.enabled
          ? `http: moving to ${hostPort(config.host, config.port)}`
          : 'http: stopping (http.enabled is false)',
      ];
    };
  }

  async #stop(): Promise<void> {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const server = this.#server;
    this.#server = undefined;
    this.#address = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stop();
  }
}

function end(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
