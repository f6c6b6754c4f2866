/**
 * Benchmark 6: the audit trail. Append rate through the real writer (group
 * commit, fdatasync, HMAC), then a trail of 1,000,000 entries: verify, the
 * newest 100 matches of common filters, full scans for rare ones, stats;
 * each in process (the daemon's own code) and through a real hived.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../client/connection.ts';
import { Audit, type AuditRecord } from '../daemon/audit/audit.ts';
import { verifyLiveTrail } from '../daemon/audit/commands.ts';
import { type AuditFilter, queryTrail, statsOfTrail } from '../daemon/audit/reader.ts';
import { Redactor } from '../daemon/audit/redact.ts';
import { AuditTrail, type TrailOptions } from '../daemon/audit/trail.ts';
import type { Clock } from '../daemon/core/clock.ts';
import type { AppendFs } from '../daemon/core/group-commit.ts';
import { realAppendFs } from '../daemon/core/group-commit.ts';
import type { Logger } from '../daemon/logs/log-hub.ts';
import { MacKey } from '../protocol/audit-chain.ts';
import { round, type Summary, startDaemon, summarize, tempDir } from './lib.ts';

const KEY_TEXT = 'bench-audit-key-0123456789abcdef';
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, event() {} };

function trailOptions(dir: string): TrailOptions {
  return {
    dir,
    key: MacKey.fromSecret(Buffer.from(KEY_TEXT)),
    rotateBytes: 64 * 1024 * 1024,
    rotateAfterMs: 0,
    keepSegments: 0,
    maxAgeMs: 0,
    writeTimeoutMs: 5000,
    retryIntervalMs: 1000,
    backlogMax: 10_000,
  };
}

function makeAudit(dir: string, deps: { clock: Clock; fs?: AppendFs }): Audit {
  const options = trailOptions(dir);
  const trail = new AuditTrail(options, {
    clock: deps.clock,
    log: silent,
    ...(deps.fs ? { fs: deps.fs } : {}),
  });
  const redactor = new Redactor({ key: options.key, secrets: new Map(), fields: [] });
  return new Audit(
    { failClosed: true, readCommands: true },
    { trail, redactor, clock: deps.clock, log: silent },
  );
}

const USERS = Array.from({ length: 20 }, (_, i) => `user${i}`);

/** A realistic mix: commands from 20 users (alice among them), bot and task events, rare ones. */
function entry(i: number): AuditRecord {
  const r = (i * 2654435761) >>> 0;
  if (i % 200_000 === 7) {
    return {
      action: 'command.bots.scale',
      actor: { name: 'mallory', type: 'user', uid: 1666, pid: 4242, verified: false },
      target: 'echo',
      result: 'refused',
      error: 'HIVE_AUDIT_UNAVAILABLE',
      reason: 'needle-in-a-haystack',
    };
  }
  const user = r % 10 === 0 ? 'alice' : (USERS[r % 20] as string);
  const actor = {
    name: user,
    type: 'user' as const,
    uid: 1000 + (r % 20),
    pid: 10_000 + (r % 5000),
    verified: true,
    via: 'socket',
  };
  switch (r % 10) {
    case 0:
    case 1:
    case 2:
      return {
        action: 'command.task.submit',
        actor,
        req: `b.${i}`,
        result: 'pending',
        args: { type: 'echo', payload: { n: i, text: 'hello hive' }, priority: 5 },
      };
    case 3:
    case 4:
      return {
        action: 'command.task.submit',
        actor,
        req: `b.${i - 1}`,
        result: 'ok',
        target: `t${i.toString(36)}`,
        durationMs: 2,
      };
    case 5:
    case 6:
      return { action: 'command.status', actor, result: 'ok', args: {}, durationMs: 1 };
    case 7:
      return {
        action: 'command.task.get',
        actor,
        result: 'ok',
        target: `t${(i - 7).toString(36)}`,
        args: { id: `t${(i - 7).toString(36)}` },
      };
    case 8:
      return {
        action: r % 3 === 0 ? 'bot.crash' : 'bot.ready',
        actor: { name: `echo-${r % 4}`, type: 'bot' },
        target: `echo-${r % 4}`,
        reason: 'exited with code 1',
        details: { pid: r % 30_000, code: 1 },
      };
    default:
      return {
        action: 'task.dead_letter',
        actor: { name: 'daemon', type: 'daemon' },
        target: `t${i.toString(36)}`,
        reason: 'no result from echo-1 within 30000 ms (attempt 3 of 3, giving up)',
        details: { type: 'echo', attempts: 3 },
      };
  }
}

export interface AuditBenchResult {
  append: {
    entriesPerSecond: number;
    seconds: number;
    inFlight: number;
    latencyMs: Summary;
    bytesPerEntry: number;
  };
  corpus: { entries: number; bytes: number; segments: number; buildSeconds: number };
  verify: { seconds: number; entriesPerSecond: number; ok: boolean };
  verifyViaHived: { seconds: number; ok: boolean };
  query: Record<string, Summary>;
  queryViaHived: Record<string, Summary>;
  scan: Record<string, { seconds: number; entriesPerSecond: number; matches: number }>;
  stats: { seconds: number; entriesPerSecond: number };
}

/** Sustained appends with `inFlight` writers each awaiting durability, as mutating commands do. */
async function benchAppend(seconds: number, inFlight: number): Promise<AuditBenchResult['append']> {
  const dir = tempDir('hive-bench-audit-');
  const audit = makeAudit(dir, { clock: { now: () => Date.now() } });
  await audit.start();
  const latencies: number[] = [];
  let written = 0;
  const end = performance.now() + seconds * 1000;
  const writer = async (w: number) => {
    for (let i = w; performance.now() < end; i += inFlight) {
      const started = performance.now();
      await audit.record(entry(i));
      latencies.push(performance.now() - started);
      written += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => writer(w)));
  const elapsed = (performance.now() - started) / 1000;
  await audit.close();
  const size = readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  return {
    entriesPerSecond: round(written / elapsed, 0),
    seconds: round(elapsed, 2),
    inFlight,
    latencyMs: summarize(latencies),
    bytesPerEntry: round(size / written, 0),
  };
}

/**
 * A trail of `count` entries over an hour of trail time, written by the
 * real writer with fdatasync skipped (durability is not what is measured
 * here, and a million fsyncs would take minutes).
 */
async function buildCorpus(dir: string, count: number): Promise<AuditBenchResult['corpus']> {
  let now = Date.parse('2026-11-23T12:00:00.000Z');
  const audit = makeAudit(dir, {
    clock: { now: () => now },
    fs: { write: realAppendFs.write, sync: async () => {} },
  });
  await audit.start();
  const started = performance.now();
  const batch = 2000;
  for (let i = 0; i < count; i += batch) {
    const writes: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(count, i + batch); k++) writes.push(audit.record(entry(k)));
    await Promise.all(writes);
    now += Math.round((3_600_000 * batch) / count);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const snapshot = await audit.trail.snapshot();
  let bytes = 0;
  for (const ref of snapshot.segments) bytes += (await ref.open())?.size ?? 0;
  await snapshot.close();
  await audit.close();
  return {
    entries: count,
    bytes,
    segments: snapshot.segments.length,
    buildSeconds: round(buildSeconds, 1),
  };
}

async function timeQuery(
  audit: Audit,
  filter: AuditFilter,
  limit: number,
): Promise<{ ms: number; matches: number }> {
  const snapshot = await audit.trail.snapshot();
  try {
    const started = performance.now();
    const { entries } = await queryTrail(snapshot, filter, limit);
    return { ms: performance.now() - started, matches: entries.length };
  } finally {
    await snapshot.close();
  }
}

const COMMON: Record<string, AuditFilter> = {
  'actor alice': { actor: 'alice' },
  'action command.task.submit': { action: 'command.task.submit' },
  'action family bot': { action: 'bot' },
  'severity warning': { severity: 'warning' },
};

const RARE: Record<string, AuditFilter> = {
  'actor mallory (5 entries)': { actor: 'mallory' },
  'target echo (5 entries)': { target: 'echo' },
  'text needle-in-a-haystack': { text: 'NEEDLE-in-a-haystack' },
};

export async function benchAudit(options: {
  appendSeconds: number;
  inFlight: number;
  corpusEntries: number;
  queryRuns: number;
  log: (message: string) => void;
}): Promise<AuditBenchResult> {
  const { log } = options;
  log(`audit append: ${options.inFlight} writers awaiting fdatasync, ${options.appendSeconds} s`);
  const append = await benchAppend(options.appendSeconds, options.inFlight);

  const dir = tempDir('hive-bench-audit-corpus-');
  log(`audit: writing a trail of ${options.corpusEntries.toLocaleString('en-US')} entries`);
  const corpus = await buildCorpus(dir, options.corpusEntries);
  const audit = makeAudit(dir, { clock: { now: () => Date.now() } });
  await audit.start();

  log("audit verify (in process, the daemon's code path)");
  const verifyStarted = performance.now();
  const report = await verifyLiveTrail(audit);
  const verifySeconds = (performance.now() - verifyStarted) / 1000;

  log(`audit query: newest 100, common filters, ${options.queryRuns} runs each`);
  const query: Record<string, Summary> = {};
  for (const [name, filter] of Object.entries(COMMON)) {
    const samples: number[] = [];
    for (let i = 0; i < options.queryRuns; i++)
      samples.push((await timeQuery(audit, filter, 100)).ms);
    query[name] = summarize(samples);
  }
  log('audit full scans for rare filters');
  const scan: AuditBenchResult['scan'] = {};
  for (const [name, filter] of Object.entries(RARE)) {
    const { ms, matches } = await timeQuery(audit, filter, 100);
    scan[name] = {
      seconds: round(ms / 1000, 3),
      entriesPerSecond: round(corpus.entries / (ms / 1000), 0),
      matches,
    };
  }
  const statsStarted = performance.now();
  const snapshot = await audit.trail.snapshot();
  await statsOfTrail(snapshot, {});
  await snapshot.close();
  const statsSeconds = (performance.now() - statsStarted) / 1000;
  await audit.close();

  log('audit through hived: verify and the same queries over its socket');
  const keyFile = join(tempDir(), 'audit.key');
  writeFileSync(keyFile, KEY_TEXT, { mode: 0o600 });
  const daemon = await startDaemon({ instances: 0, extra: { audit: { dir, keyFile } } });
  const queryViaHived: Record<string, Summary> = {};
  let verifyViaHived = { seconds: 0, ok: false };
  try {
    const connection = await Connection.open(daemon.socket);
    const started = performance.now();
    const viaHived = (await connection.request('audit.verify', {})) as { ok: boolean };
    verifyViaHived = { seconds: round((performance.now() - started) / 1000, 2), ok: viaHived.ok };
    for (const [name, filter] of Object.entries(COMMON)) {
      const samples: number[] = [];
      for (let i = 0; i < options.queryRuns; i++) {
        const t0 = performance.now();
        await connection.request('audit.query', { ...filter, limit: 100 });
        samples.push(performance.now() - t0);
      }
      queryViaHived[name] = summarize(samples);
    }
    connection.close();
  } finally {
    await daemon.stop();
  }
  return {
    append,
    corpus,
    verify: {
      seconds: round(verifySeconds, 2),
      entriesPerSecond: round(report.entries / verifySeconds, 0),
      ok: report.ok,
    },
    verifyViaHived,
    query,
    queryViaHived,
    scan,
    stats: {
      seconds: round(statsSeconds, 2),
      entriesPerSecond: round(corpus.entries / statsSeconds, 0),
    },
  };
}
