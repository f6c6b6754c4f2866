import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logs/log-hub.ts';
import { WebAccess } from './access.ts';
import { sendError } from './respond.ts';

type HttpConfig = Config['http'];

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => void | Promise<void>;

/**
 * Who may call a route: anyone who reaches the port (`public`: the page's
 * own files), readers (`read`: anyone on loopback, token holders elsewhere),
 * or token holders from the dashboard's own origin (`mutate`).
 */
export type RouteAccess = 'public' | 'read' | 'mutate';

export interface RouteOptions {
  method?: 'GET' | 'POST';
  access?: RouteAccess;
}

interface Route {
  handler: RouteHandler;
  access: RouteAccess;
}

/**
 * Every response: nothing but the daemon's own files may load, nothing may
 * frame the page (issue 10, "strict content security policy").
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * hived's HTTP server: /metrics and the dashboard (issue 10), on loopback by
 * default. Plain node:http behind `route()` (BENCHMARKS.md 11 and 13:
 * Fastify cost 12 MB of idle RSS for routing a dozen paths). Every route
 * says who may call it (`RouteAccess`); the checks live in `WebAccess`. A port that is taken
 * does not stop hived: it logs, tries again every `listenRetryMs`, and
 * `hive status` says where (and whether) it listens. Host, port and
 * `enabled` apply live (the server moves).
 */
export class WebServer implements ConfigApplier {
  readonly configPart = 'web';
  // http.dashboard and http.livePushMinGapMs are read at start: left unclaimed, a change is reported as needing a restart.
  readonly configKeys = ['http.enabled', 'http.host', 'http.port', 'http.listenRetryMs'];
  #config: HttpConfig;
  readonly #log: Logger;
  readonly #routes = new Map<string, Route>();
  readonly #prefixes: { prefix: string; route: Route }[] = [];
  readonly #access: WebAccess;
  #server: Server | undefined;
  #address: { host: string; port: number } | undefined;
  #lastError: string | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(config: HttpConfig, deps: { log: Logger; token: string }) {
    this.#config = config;
    this.#log = deps.log;
    this.#access = new WebAccess(deps.token, () => this.#config.host);
  }

  /** Serves `path` (GET also answers HEAD) with `handler`; readers only unless told. */
  route(path: string, handler: RouteHandler, options: RouteOptions = {}): void {
    const method = options.method ?? 'GET';
    const access = options.access ?? (method === 'GET' ? 'read' : 'mutate');
    this.#routes.set(`${method} ${path}`, { handler, access });
  }

  /** Serves GET of every path under `prefix` (static files) with `handler`. */
  routePrefix(prefix: string, handler: RouteHandler, access: RouteAccess = 'public'): void {
    this.#prefixes.push({ prefix, route: { handler, access } });
  }

  /** The access checks, for handlers that decide per request (a read or a mutating command). */
  get access(): WebAccess {
    return this.#access;
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

  #find(method: string, path: string): Route | undefined {
    const exact = this.#routes.get(`${method === 'HEAD' ? 'GET' : method} ${path}`);
    if (exact || (method !== 'GET' && method !== 'HEAD')) return exact;
    return this.#prefixes.find((p) => path.startsWith(p.prefix))?.route;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const url = new URL(req.url ?? '/', 'http://hived.invalid');
    const method = req.method ?? 'GET';
    const route = this.#find(method, url.pathname);
    if (!route) return this.#notRouted(method, url.pathname, res);
    try {
      if (route.access === 'read') this.#access.checkRead(req, url);
      if (route.access === 'mutate') this.#access.checkMutation(req);
      await route.handler(req, res, url);
    } catch (error) {
      if (sendError(res, error)) return;
      this.#log.error(
        `http: ${method} ${url.pathname} failed: ${String((error as Error)?.stack ?? error)}`,
      );
      if (!res.headersSent) end(res, 500, 'internal error (see hived.log)\n');
      else res.destroy();
    }
  }

  #notRouted(method: string, path: string, res: ServerResponse): void {
    const allowed = ['GET', 'POST'].filter((m) => this.#routes.has(`${m} ${path}`));
    if (allowed.length === 0) {
      end(res, 404, 'not found\n');
      return;
    }
    res.setHeader('allow', (allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed).join(', '));
    end(res, 405, `method ${method} not allowed\n`);
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

export function end(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
