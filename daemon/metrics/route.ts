import type { RouteHandler } from '../web/server.ts';
import type { Exposition } from './exposition.ts';

/** GET /metrics: the Prometheus text format (404 while metrics.enabled is false). */
export function metricsRoute(exposition: Exposition, enabled: () => boolean): RouteHandler {
  return async (req, res) => {
    if (!enabled()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics are off (metrics.enabled)\n');
      return;
    }
    const body = await exposition.render();
    res.writeHead(200, { 'content-type': exposition.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
