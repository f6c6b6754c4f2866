/** Helpers for audit tests: a trail on a temp folder, a logger that keeps lines, trail files in memory. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import {
  AuditTrail,
  type AuditTrail as Trail,
  type TrailDeps,
  type TrailOptions,
} from '../../daemon/audit/trail.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import type { Logger } from '../../daemon/logs/log-hub.ts';
import { AUDIT_FILES, type AuditEntry, sealedSegmentNumber } from '../../protocol/audit.ts';
import { MacKey } from '../../protocol/audit-chain.ts';
import type { TrailFile } from '../../protocol/audit-verify.ts';

export const TEST_KEY = new MacKey(Buffer.from('0123456789abcdef0123456789abcdef'));

export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => {
    lines.push(`${level} ${message}`);
  };
  return {
    lines,
    error: keep('error'),
    warn: keep('warn'),
    info: keep('info'),
    debug: keep('debug'),
    event: keep('event'),
  };
}

export function trailOptions(dir: string, extra: Partial<TrailOptions> = {}): TrailOptions {
  return {
    dir,
    key: TEST_KEY,
    rotateBytes: 64 * 1024 * 1024,
    rotateAfterMs: 0,
    keepSegments: 0,
    maxAgeMs: 0,
    writeTimeoutMs: 800,
    retryIntervalMs: 50,
    backlogMax: 10_000,
    ...extra,
  };
}

/** Opens a trail; it is closed at the end of the test. */
export async function openTrail(
  t: ExecutionContext,
  dir: string,
  extra: Partial<TrailOptions> = {},
  deps: Partial<TrailDeps> = {},
): Promise<Trail> {
  const trail = new AuditTrail(trailOptions(dir, extra), {
    clock: systemClock,
    log: memoryLogger(),
    ...deps,
  });
  await trail.open();
  t.teardown(() => trail.close());
  return trail;
}

/** A minimal entry body in canonical form (the fields after `time`). */
export function restOf(n: number, action = 'bot.ready'): string {
  return `"action":"${action}","severity":"info","actor":"tester","actorType":"user","target":"t${n}","details":{"n":${n}}`;
}

/** The trail's files as verify reads them, from memory (so tests can change bytes cheaply). */
export function trailFiles(
  dir: string,
): { name: string; segment: number | undefined; data: Buffer }[] {
  const names = readdirSync(dir);
  const sealed = names
    .map((name) => ({ name, segment: sealedSegmentNumber(name) }))
    .filter((f): f is { name: string; segment: number } => f.segment !== undefined)
    .sort((a, b) => a.segment - b.segment);
  const files: { name: string; segment: number | undefined; data: Buffer }[] = sealed.map((f) => ({
    ...f,
    data: readFileSync(join(dir, f.name)),
  }));
  if (names.includes(AUDIT_FILES.live))
    files.push({
      name: AUDIT_FILES.live,
      segment: undefined,
      data: readFileSync(join(dir, AUDIT_FILES.live)),
    });
  return files;
}

export function asTrailFiles(
  files: { name: string; segment: number | undefined; data: Buffer }[],
): TrailFile[] {
  return files.map((f) => ({ name: f.name, segment: f.segment, read: async () => f.data }));
}

/** Every entry in the trail files of `dir`, oldest first (segment headers left out). */
export function trailEntries(dir: string): AuditEntry[] {
  return trailFiles(dir)
    .flatMap((f) => f.data.toString('utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as AuditEntry)
    .filter((e) => e.seq !== undefined);
}
