import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { HiveError } from '../../protocol/errors.ts';
import { sameToken } from './token.ts';

/** The header a page or a script sends the dashboard token in. */
export const TOKEN_HEADER = 'x-hive-token';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** True for 127.0.0.0/8, ::1 and `localhost`: the hosts that need no token to read. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (LOOPBACK_NAMES.has(bare)) return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** The token a request carries: header, bearer, or `?token=` (EventSource cannot set headers). */
function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers[TOKEN_HEADER];
  if (typeof header === 'string') return header;
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  return bearer ?? url.searchParams.get('token') ?? undefined;
}

/**
 * Who may do what over HTTP (issue 10, DESIGN.md "web"). On loopback anyone
 * on the machine may read, as with /metrics; bound anywhere else every API
 * request needs the token. Mutations always need the token, in a header (a
 * cross-site form cannot set one). A browser's `Origin`, when sent, must be
 * the dashboard's own for any API request. On loopback the `Host` must be a loopback name too, so a
 * DNS-rebinding page cannot reach the API through a name of its own.
 */
export class WebAccess {
  readonly #token: string;
  readonly #bindHost: () => string;

  constructor(token: string, bindHost: () => string) {
    this.#token = token;
    this.#bindHost = bindHost;
  }

  /** Whether the request carries the right token. */
  authenticated(req: IncomingMessage, url: URL): boolean {
    return sameToken(this.#token, presentedToken(req, url));
  }

  /** Throws unless the request may read (API reads, the event feed, /metrics). */
  checkRead(req: IncomingMessage, url: URL): void {
    this.#checkHost(req);
    this.#checkOrigin(req);
    if (isLoopback(this.#bindHost()) || this.authenticated(req, url)) return;
    throw new HiveError(
      'HIVE_WEB_TOKEN_REQUIRED',
      'this dashboard listens beyond loopback: log in with the link `hive web url` prints',
    );
  }

  /** Throws unless the request may change state: token header, same origin. */
  checkMutation(req: IncomingMessage): void {
    this.#checkHost(req);
    this.#checkOrigin(req);
    const header = req.headers[TOKEN_HEADER];
    if (!sameToken(this.#token, typeof header === 'string' ? header : undefined)) {
      throw new HiveError(
        'HIVE_WEB_TOKEN_REQUIRED',
        'actions need the dashboard token: open the link `hive web url` prints, or paste `hive web token`',
      );
    }
  }

  /** A browser names the page a request comes from; only the dashboard's own may call the API. */
  #checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host)) {
      throw new HiveError(
        'HIVE_WEB_BAD_ORIGIN',
        `refused: a request from ${origin} may not use this dashboard`,
      );
    }
  }

  #checkHost(req: IncomingMessage): void {
    if (!isLoopback(this.#bindHost())) return;
    const host = hostName(req.headers.host ?? '');
    if (!isLoopback(host))
      throw new HiveError(
        'HIVE_WEB_BAD_ORIGIN',
        `refused: unexpected Host ${JSON.stringify(host)}`,
      );
  }
}

function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  return hostHeader.split(':')[0] ?? '';
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}
