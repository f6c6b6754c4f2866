import { join } from 'node:path';
import type { CommandRouter } from '../ipc/router.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { WebServer } from '../web/server.ts';
import { registerDashboardApi } from './api.ts';
import { ChatHistory } from './chat-history.ts';
import { LiveHub } from './live-hub.ts';
import { coreSources, type DashboardParts } from './sources.ts';
import { staticFiles } from './static-files.ts';

export interface DashboardOptions {
  /** Where chat histories live (one JSONL per conversation). */
  dbDir: string;
  /** At most one push per view per this many ms. */
  minGapMs: number;
}

/**
 * The web dashboard (issue 10) on hived's HTTP server: the page's files,
 * its API and the live feed. Returns the hub: main.ts adds more views with
 * `hub.add(commandSource(...))` (the deployments view, once issue 8 lands).
 */
export function mountDashboard(
  web: WebServer,
  options: DashboardOptions,
  deps: { router: CommandRouter; parts: DashboardParts; log: Logger },
): LiveHub {
  const hub = new LiveHub({ minGapMs: options.minGapMs }, (source, error) =>
    deps.log.error(`dashboard view ${source} could not be read: ${String(error)}`),
  );
  for (const source of coreSources(deps.router, deps.parts)) hub.add(source);
  registerDashboardApi({
    web,
    router: deps.router,
    hub,
    chat: new ChatHistory(join(options.dbDir, 'chat')),
  });
  web.routePrefix('/', staticFiles());
  return hub;
}
