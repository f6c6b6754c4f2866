import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { end, type RouteHandler } from '../web/server.ts';

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page's own files (no build step: ES modules as they are in static/). */
const PAGE_FILES = [
  'index.html',
  'app.js',
  'api.js',
  'views.js',
  'charts.js',
  'chat.js',
  'style.css',
];

/** uPlot, served from node_modules so the page loads nothing from the internet. */
function vendorFiles(): Record<string, string> {
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));
  return {
    '/vendor/uPlot.esm.js': join(uplot, 'uPlot.esm.js'),
    '/vendor/uPlot.min.css': join(uplot, 'uPlot.min.css'),
  };
}

/**
 * Serves the dashboard's files from an allow-list (no path from the URL
 * ever reaches the file system). Each file is read on its first request
 * and kept: the set is fixed and small (~190 KB with uPlot).
 */
export function staticFiles(): RouteHandler {
  const files = new Map<string, string>(Object.entries(vendorFiles()));
  for (const name of PAGE_FILES) files.set(`/${name}`, join(STATIC_DIR, name));
  files.set('/', join(STATIC_DIR, 'index.html'));
  const cache = new Map<string, Promise<Buffer>>();
  return async (req, res, url) => {
    const path = files.get(url.pathname);
    if (!path) return end(res, 404, 'not found\n');
    let body = cache.get(path);
    if (!body) {
      body = readFile(path);
      cache.set(path, body);
      body.catch(() => cache.delete(path));
    }
    const bytes = await body;
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': bytes.length,
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };
}
