/**
 * Real-browser helpers (issue 10): playwright-core drives Debian's chromium
 * (never a downloaded browser). Screenshots go to test-output/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { type DaemonHandle, ROOT, waitFor } from './daemon.ts';

/** The chromium executable: HIVE_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.HIVE_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root (CI containers) chromium needs --no-sandbox.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 60_000,
  });
}

/** Where the daemon's HTTP server listens, once it does. */
export async function httpBase(daemon: DaemonHandle): Promise<string> {
  const port = await waitFor(
    async () => {
      const { http } = (await daemon.call('status')) as {
        http: { listening: { port: number } | null };
      };
      return http.listening?.port;
    },
    { what: 'the HTTP server to listen', timeoutMs: 20_000 },
  );
  return `http://127.0.0.1:${port}`;
}

export async function webToken(daemon: DaemonHandle): Promise<string> {
  return ((await daemon.call('web.token')) as { token: string }).token;
}

/** A page that records console errors and uncaught exceptions into `errors`. */
export async function openPage(browser: Browser, url: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  return { page, errors, close: () => context.close() };
}

export async function screenshot(t: ExecutionContext, page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  t.log(`screenshot: ${path}`);
}
