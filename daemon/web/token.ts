import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the dashboard token lives: the state directory, mode 0600 (issue 10). */
export function tokenPath(stateDir: string): string {
  return join(stateDir, 'web-token');
}

/**
 * The dashboard token: read from the state directory, or created there
 * (32 random bytes, hex) on the first start. It stays the same across
 * restarts so a saved login link keeps working; delete the file to rotate it.
 */
export function loadOrCreateToken(stateDir: string): string {
  const path = tokenPath(stateDir);
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(existing)) {
      chmodSync(path, 0o600);
      return existing;
    }
  } catch {
    // none yet: created below
  }
  const token = randomBytes(32).toString('hex');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/** Compares in constant time (the token is a secret; its prefix must not leak by timing). */
export function sameToken(expected: string, given: string | undefined): boolean {
  if (given === undefined || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}
