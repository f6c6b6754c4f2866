/**
 * Benchmark 13 (issue 10): the web dashboard. First paint and "bots shown"
 * of a fresh page load in Debian's chromium; the time from a change in the
 * daemon (a mode set over the socket) to the page showing it; hived's CPU
 * with 20 dashboards open (20 raw SSE clients plus one real page) against
 * the same daemon with none; idle RSS with the dashboard served against
 * `http.enabled: false`.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import type { Browser } from 'playwright-core';
import { cpuMs, type Daemon, round, type Summary, sleep, startDaemon, summarize } from './lib.ts';
import { type RssSample, sampleRss } from './rss.ts';

const CHROMIUM = process.env.HIVE_CHROMIUM ?? '/usr/bin/chromium';

export interface WebBenchResult {
  browser: string | null;
  /** Navigation start → first contentful paint, fresh context each load. */
  firstPaintMs?: Summary;
  /** Navigation start → the bot rows on screen (the first live frame rendered). */
  botsShownMs?: Summary;
  /** mode.set sent over the socket → the page's mode label changed. */
  eventToPageMs?: Summary;
  cpu: {
    windowMs: number;
    idlePercent: number;
    dashboardsPercent: number;
    dashboards: number;
    /** SSE frames one raw client got during the window. */
    framesPerClient: number;
  };
  /** The same with a steady task load: hived's CPU with no page against 20 raw SSE clients. */
  cpuUnderLoad: {
    windowMs: number;
    tasksPerSecond: number;
    sent: number;
    noPagesPercent: number;
    dashboardsPercent: number;
    framesPerClient: number;
  };
  rss: { httpDisabled: RssSample; dashboardIdle: RssSample; afterPageLoads: RssSample };
}

async function httpBase(daemon: Daemon): Promise<string> {
  const { http } = (await daemon.call('status')) as {
    http: { listening: { port: number } | null };
  };
  if (!http.listening) throw new Error('hived did not listen for HTTP');
  return `http://127.0.0.1:${http.listening.port}`;
}

/** A raw SSE client: counts frames until closed. */
function sseClient(url: string): { frames: () => number; close: () => void } {
  let frames = 0;
  const req = request(url, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      frames += chunk.match(/^event: /gm)?.length ?? 0;
    });
  });
  req.on('error', () => {});
  req.end();
  return { frames: () => frames, close: () => req.destroy() };
}

async function pageLoads(browser: Browser, url: string, runs: number) {
  const paint: number[] = [];
  const shown: number[] = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector('tr[data-bot] td[data-state="ready"]');
    const times = await page.evaluate(() => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
      now: performance.now(),
    }));
    paint.push(times.fcp);
    shown.push(times.now);
    await context.close();
  }
  return { firstPaintMs: summarize(paint), botsShownMs: summarize(shown) };
}

async function eventToPage(browser: Browser, daemon: Daemon, url: string, runs: number) {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('#mode');
  const latencies: number[] = [];
  for (let i = 0; i < runs; i++) {
    const mode = i % 2 === 0 ? 'degraded' : 'full';
    // A string: this runs in the page (DOM types are not in the bench's tsconfig).
    const seen = page.evaluate<number>(`new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if (document.querySelector('#mode')?.textContent === 'mode ${mode.toUpperCase()}') {
          observer.disconnect();
          resolve(Date.now());
        }
      });
      observer.observe(document.querySelector('#daemon'), { subtree: true, childList: true, characterData: true });
    })`);
    await sleep(50); // the observer is in place
    const sent = Date.now();
    await daemon.call('mode.set', { mode, reason: 'bench: event to page' });
    latencies.push((await seen) - sent);
    await sleep(150); // past the 100 ms coalescing gap: each change is its own push
  }
  await daemon.call('mode.auto');
  await page.close();
  return summarize(latencies);
}

/** Submits `perSecond` echo tasks a second until stopped (the queue moves: the top view pushes). */
async function steadyLoad(daemon: Daemon, perSecond: number): Promise<() => Promise<number>> {
  const connection = await daemon.connect();
  let sent = 0;
  const pending = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    for (let i = 0; i < perSecond / 20; i++) {
      const submit = connection.request('task.submit', { type: 'echo', payload: { i: sent++ } });
      pending.add(submit);
      void submit.catch(() => {}).finally(() => pending.delete(submit));
    }
  }, 50);
  return async () => {
    clearInterval(timer);
    await Promise.allSettled([...pending]);
    connection.close();
    return sent;
  };
}

/** The same two windows with `perSecond` tasks a second going through: pushes up to 10 a second. */
async function loadedDashboardCpu(
  daemon: Daemon,
  base: string,
  windowMs: number,
  perSecond: number,
) {
  const stop = await steadyLoad(daemon, perSecond);
  await sleep(2000);
  const noPagesPercent = await cpuPercent(daemon.pid, windowMs);
  const clients = Array.from({ length: 20 }, () => sseClient(`${base}/api/events`));
  await sleep(1000);
  const before = clients[0]?.frames() ?? 0;
  const dashboardsPercent = await cpuPercent(daemon.pid, windowMs);
  const framesPerClient = (clients[0]?.frames() ?? 0) - before;
  for (const client of clients) client.close();
  const sent = await stop();
  return {
    windowMs,
    tasksPerSecond: perSecond,
    sent,
    noPagesPercent,
    dashboardsPercent,
    framesPerClient,
  };
}

/** hived's CPU % (100 = one core) over `ms`, to 0.01 % (clock ticks of 10 ms over 30 s). */
async function cpuPercent(pid: number, ms: number): Promise<number> {
  const before = cpuMs(pid) ?? 0;
  const start = performance.now();
  await sleep(ms);
  return round((((cpuMs(pid) ?? 0) - before) / (performance.now() - start)) * 100, 2);
}

async function dashboardCpu(
  daemon: Daemon,
  base: string,
  browser: Browser | undefined,
  windowMs: number,
) {
  await sleep(2000);
  const idlePercent = await cpuPercent(daemon.pid, windowMs);
  const clients = Array.from({ length: browser ? 19 : 20 }, () => sseClient(`${base}/api/events`));
  const page = browser ? await browser.newPage() : undefined;
  await page?.goto(`${base}/`);
  await sleep(2000);
  const before = clients[0]?.frames() ?? 0;
  const dashboardsPercent = await cpuPercent(daemon.pid, windowMs);
  const framesPerClient = (clients[0]?.frames() ?? 0) - before;
  for (const client of clients) client.close();
  await page?.close();
  return { windowMs, idlePercent, dashboardsPercent, dashboards: 20, framesPerClient };
}

export async function benchWeb(options: { log: (m: string) => void }): Promise<WebBenchResult> {
  const { log } = options;
  const browser = existsSync(CHROMIUM)
    ? await (await import('playwright-core')).chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox'],
      })
    : undefined;
  if (!browser) log(`no chromium at ${CHROMIUM}: page timings skipped`);
  const result: Partial<WebBenchResult> = { browser: browser?.version() ?? null };
  try {
    log('idle RSS: http.enabled false');
    const off = await startDaemon({ extra: { http: { enabled: false } } });
    await sleep(3000);
    const httpDisabled = await sampleRss(off.pid);
    await off.stop();

    log('dashboard daemon (4 echo bots)');
    const daemon = await startDaemon({ extra: { http: { port: 0 } } });
    try {
      const base = await httpBase(daemon);
      await sleep(3000);
      const dashboardIdle = await sampleRss(daemon.pid);
      if (browser) {
        log('first paint: 10 fresh page loads');
        Object.assign(result, await pageLoads(browser, `${base}/`, 10));
        log('event to page: 20 mode changes');
        result.eventToPageMs = await eventToPage(browser, daemon, `${base}/`, 20);
      }
      log('hived CPU: 30 s idle, then 30 s with 20 dashboards');
      result.cpu = await dashboardCpu(daemon, base, browser, 30_000);
      // Before the task load: after a load hived keeps its grown heap (BENCHMARKS.md 5).
      await sleep(2000);
      result.rss = { httpDisabled, dashboardIdle, afterPageLoads: await sampleRss(daemon.pid) };
      log('hived CPU under 200 tasks/s: 20 s without pages, 20 s with 20 dashboards');
      result.cpuUnderLoad = await loadedDashboardCpu(daemon, base, 20_000, 200);
    } finally {
      await daemon.stop();
    }
  } finally {
    await browser?.close();
  }
  return result as WebBenchResult;
}

export const cpuRatio = (r: WebBenchResult) =>
  r.cpu.idlePercent > 0 ? round(r.cpu.dashboardsPercent / r.cpu.idlePercent, 2) : Number.NaN;
