/** A tiny tmpfs for full-disk tests: real ENOSPC from a real filesystem (needs root). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

/**
 * Mounts a tmpfs of `sizeKb` on a fresh folder and unmounts it at the end of
 * the test. Returns undefined (and logs why) when mounting is not possible
 * here (not root, no mount), so the caller can fall back or skip.
 */
export function tinyFilesystem(t: ExecutionContext, sizeKb: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'hive-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    t.log(`cannot mount a tmpfs here (${String(error).split('\n')[0]})`);
    return undefined;
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills the filesystem under `dir` with a file until it is full; returns the file's path. */
export function fillUp(dir: string): string {
  const filler = join(dir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'pipe' });
  } catch {
    // dd exits non-zero at ENOSPC: that is the point
  }
  return filler;
}
