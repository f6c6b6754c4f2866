import { hostname } from 'node:os';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { WebServer } from './server.ts';

/** The dashboard's address for a person: a wildcard bind is reached by the machine's name. */
function dashboardUrl(web: WebServer): string | null {
  const listening = web.status.listening;
  if (!listening) return null;
  const wildcard = listening.host === '0.0.0.0' || listening.host === '::';
  const host = wildcard ? hostname() : listening.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listening.port}/`;
}

/**
 * `web.token` for `hive web token` and `hive web url`: only who can open the
 * control socket can read the token, so only they can act through the web.
 */
export function registerWebCommands(
  router: CommandRouter,
  deps: { web: WebServer; token: string },
) {
  router.register({
    name: 'web.token',
    summary: 'The dashboard token and a login link (the token in it)',
    mutating: false,
    args: args({}),
    handler: () => {
      const url = dashboardUrl(deps.web);
      return {
        token: deps.token,
        url,
        loginUrl: url === null ? null : `${url}?token=${deps.token}`,
        ...(url === null ? { error: deps.web.status.error ?? 'http is disabled' } : {}),
      };
    },
  });
}
