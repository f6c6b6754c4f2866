import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { type AuditEntry, SEVERITIES } from '../../protocol/audit.ts';
import { type TrailFile, type VerifyReport, verifyTrail } from '../../protocol/audit-verify.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Clock } from '../core/clock.ts';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Audit } from './audit.ts';
import { exportPage } from './export.ts';
import { queryTrail, statsOfTrail, tailOfTrail } from './reader.ts';
import type { TrailSnapshot } from './trail.ts';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A point in time from the command line: epoch milliseconds, an ISO 8601
 * date or time (`2026-11-23`, `2026-11-23T14:00Z`), `now`, or an age such
 * as `15m`, `2h`, `7d` (that long before now).
 */
export function parseTime(value: string | number, now: number, name: string): number {
  if (typeof value === 'number') return value;
  const text = value.trim();
  if (text === 'now') return now;
  if (/^\d{10,}$/.test(text)) return Number(text);
  const age = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text);
  if (age) return now - Number(age[1]) * (UNITS[age[2] as string] ?? 0);
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) {
    throw new HiveError(
      'HIVE_IPC_BAD_ARGS',
      `${name}: not a time: ${JSON.stringify(value)} (use an ISO date/time, epoch ms, or an age like 15m, 2h, 7d)`,
    );
  }
  return parsed;
}

const timeArg = z.union([z.number().int().min(0), z.string().min(1).max(64)]).optional();

function range(
  a: { since?: string | number | undefined; until?: string | number | undefined },
  now: number,
) {
  return {
    ...(a.since !== undefined ? { since: parseTime(a.since, now, 'since') } : {}),
    ...(a.until !== undefined ? { until: parseTime(a.until, now, 'until') } : {}),
  };
}

async function withSnapshot<T>(audit: Audit, fn: (s: TrailSnapshot) => Promise<T>): Promise<T> {
  const snapshot = await audit.trail.snapshot();
  try {
    return await fn(snapshot);
  } finally {
    await snapshot.close();
  }
}

async function readAll(handle: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let done = 0;
  while (done < size) {
    const { bytesRead } = await handle.read(buf, done, size - done, done);
    if (bytesRead === 0) return buf.subarray(0, done);
    done += bytesRead;
  }
  return buf;
}

/**
 * Verifies the whole trail against what hived knows it wrote. Every file is
 * opened before the walk, so retention running meanwhile cannot make a
 * segment look deleted; if it ran between the listing and the opening, the
 * walk starts again.
 */
export async function verifyLiveTrail(
  audit: Audit,
): Promise<VerifyReport & { head: { seq: number; hash: string } }> {
  await audit.trail.flushed();
  for (let attempt = 1; ; attempt++) {
    const anchor = await audit.trail.anchor();
    const snapshot = await audit.trail.snapshot();
    try {
      const opened = await Promise.all(snapshot.segments.map((ref) => ref.open()));
      if (opened.some((f) => f === undefined) && attempt < 3) continue;
      const files: TrailFile[] = snapshot.segments.map((ref, i) => ({
        name: ref.name,
        segment: ref.live ? undefined : ref.segment,
        read: async () => {
          const file = opened[i];
          return file ? readAll(file.handle, file.size) : Buffer.alloc(0);
        },
      }));
      const report = await verifyTrail(files, {
        key: audit.trail.key,
        anchor,
        checkpoint: snapshot.head,
      });
      return { ...report, head: snapshot.head };
    } finally {
      await snapshot.close();
    }
  }
}

/** `hive audit …`: query, tail, verify, stats, export. All read-only. */
export function registerAuditCommands(
  router: CommandRouter,
  deps: { audit: Audit; clock: Clock },
): void {
  const { audit, clock } = deps;

  router.register({
    name: 'audit.query',
    summary: 'Search the audit trail, newest first',
    mutating: false,
    args: args({
      actor: z.string().min(1).max(64).optional(),
      action: z.string().min(1).max(100).optional(),
      target: z.string().min(1).max(200).optional(),
      severity: z.enum(SEVERITIES).optional(),
      since: timeArg,
      until: timeArg,
      text: z.string().min(1).max(200).optional(),
      before: z.number().int().min(1).optional(),
      limit: z.number().int().min(1).max(1000).default(50),
    }),
    handler: (a) =>
      withSnapshot(audit, async (snapshot) => {
        const { limit, since, until, ...rest } = a;
        const filter = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
        return queryTrail(snapshot, { ...filter, ...range({ since, until }, clock.now()) }, limit);
      }),
  });

  router.register({
    name: 'audit.tail',
    summary: 'The latest audit entries; follow streams new ones',
    mutating: false,
    args: args({
      lines: z.number().int().min(0).max(1000).default(20),
      follow: z.boolean().default(false),
    }),
    async handler(a, ctx) {
      if (!a.follow) return { entries: await withSnapshot(audit, (s) => tailOfTrail(s, a.lines)) };
      // Subscribe before reading the tail, so nothing written in between is missed.
      const queued: AuditEntry[] = [];
      let live = false;
      let lastSeq = 0;
      const off = audit.trail.on('written', ({ data }) => {
        for (const line of data.split('\n')) {
          if (!line) continue;
          const entry = JSON.parse(line) as AuditEntry;
          if (!live) queued.push(entry);
          else ctx.emit(entry);
        }
      });
      try {
        for (const entry of await withSnapshot(audit, (s) => tailOfTrail(s, a.lines))) {
          ctx.emit(entry);
          lastSeq = entry.seq;
        }
        for (const entry of queued) if (entry.seq > lastSeq) ctx.emit(entry);
        live = true;
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      } finally {
        off();
      }
      return { followed: true };
    },
  });

  router.register({
    name: 'audit.verify',
    summary: 'Walk the hash chain of the whole trail and report the first problem',
    mutating: false,
    args: args({}),
    async handler() {
      const started = clock.now();
      const report = await verifyLiveTrail(audit);
      return { ...report, durationMs: clock.now() - started };
    },
  });

  router.register({
    name: 'audit.stats',
    summary: 'Counts by action, actor, severity and hour',
    mutating: false,
    args: args({ since: timeArg, until: timeArg }),
    handler: (a) => withSnapshot(audit, (s) => statsOfTrail(s, range(a, clock.now()))),
  });

  router.register({
    name: 'audit.export',
    summary: 'One page of an export of a time range (JSON lines with the chain anchor)',
    mutating: false,
    args: args({ since: timeArg, until: timeArg, cursor: z.string().max(200).optional() }),
    handler: (a) =>
      withSnapshot(audit, (s) =>
        exportPage(s, range(a, clock.now()), a.cursor, {
          key: audit.trail.key,
          maxBytes: 256 * 1024,
          now: clock.now(),
        }),
      ),
  });
}
