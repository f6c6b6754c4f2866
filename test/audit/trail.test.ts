import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Audit } from '../../daemon/audit/audit.ts';
import { Redactor } from '../../daemon/audit/redact.ts';
import { AuditTrail } from '../../daemon/audit/trail.ts';
import type { Clock } from '../../daemon/core/clock.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import { type AppendFs, realAppendFs } from '../../daemon/core/group-commit.ts';
import { verifyTrail } from '../../protocol/audit-verify.ts';
import {
  asTrailFiles,
  memoryLogger,
  openTrail,
  restOf,
  TEST_KEY,
  trailEntries,
  trailFiles,
  trailOptions,
} from '../helpers/audit.ts';
import { tempDir, waitFor } from '../helpers/daemon.ts';
import { rejection } from '../helpers/errors.ts';

function verifyDir(dir: string, trail?: AuditTrail) {
  return verifyTrail(asTrailFiles(trailFiles(dir)), {
    key: TEST_KEY,
    ...(trail ? { checkpoint: { seq: trail.head.seq, hash: trail.head.hash } } : {}),
  });
}

/** A write path that can be made to fail (EIO) or to hang until released. */
function faultyFs() {
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  const hung: (() => void)[] = [];
  const fs: AppendFs = {
    async write(handle, data) {
      if (mode === 'fail') throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      if (mode === 'hang') await new Promise<void>((resolve) => hung.push(resolve));
      await realAppendFs.write(handle, data);
    },
    sync: (handle) => realAppendFs.sync(handle),
  };
  return {
    fs,
    set: (m: typeof mode) => {
      mode = m;
    },
    release: () => {
      for (const resolve of hung.splice(0)) resolve();
    },
  };
}

test('appends from one moment share a write and get consecutive sequence numbers', async (t) => {
  const dir = tempDir(t);
  const trail = await openTrail(t, dir);
  const written = await Promise.all(
    Array.from({ length: 2000 }, (_, i) => trail.append(restOf(i), 'bot.ready')),
  );
  t.deepEqual(
    written.map((w) => w.seq),
    Array.from({ length: 2000 }, (_, i) => i + 1),
  );
  await trail.close();
  const report = await verifyDir(dir, trail);
  t.true(report.ok, JSON.stringify(report.problem));
  t.is(report.entries, 2000);
});

test('a segment is rotated by age, and the chain runs on through the new segment', async (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { now: () => now };
  const trail = await openTrail(t, dir, { rotateAfterMs: 60_000 }, { clock });
  await trail.append(restOf(1), 'bot.ready');
  now += 61_000;
  await trail.append(restOf(2), 'bot.ready');
  now += 1_000;
  await trail.append(restOf(3), 'bot.ready');
  await trail.close();
  const files = trailFiles(dir);
  t.deepEqual(
    files.map((f) => f.name),
    ['audit-trail.000001.jsonl', 'audit-trail.jsonl'],
  );
  t.true((await verifyDir(dir, trail)).ok);
});

test('an unfinished write left by a crash is cut off at the next start and the chain continues', async (t) => {
  const dir = tempDir(t);
  const first = await openTrail(t, dir);
  for (let i = 1; i <= 10; i++) await first.append(restOf(i), 'bot.ready');
  await first.close();
  const torn = '{"seq":11,"prev":"00ab';
  appendFileSync(join(dir, 'audit-trail.jsonl'), torn);
  const second = new AuditTrail(trailOptions(dir), { clock: systemClock, log: memoryLogger() });
  const report = await second.open();
  t.is(report?.cutBytes, torn.length);
  t.is((await second.append(restOf(11), 'bot.ready')).seq, 11);
  await second.close();
  t.true((await verifyDir(dir, second)).ok);
});

test('entries cut off while hived was down leave a gap that stays visible', async (t) => {
  const dir = tempDir(t);
  const first = await openTrail(t, dir);
  for (let i = 1; i <= 10; i++) await first.append(restOf(i), 'bot.ready');
  await first.close();
  const live = join(dir, 'audit-trail.jsonl');
  const lines = readFileSync(live, 'utf8').split('\n').filter(Boolean);
  truncateSync(live, Buffer.byteLength(`${lines.slice(0, -3).join('\n')}\n`));
  const second = new AuditTrail(trailOptions(dir), { clock: systemClock, log: memoryLogger() });
  const report = await second.open();
  t.deepEqual(report?.gap, { from: 8, to: 10 });
  t.is((await second.append(restOf(11), 'bot.ready')).seq, 11);
  await second.close();
  const verified = await verifyDir(dir);
  t.is(verified.problem?.kind, 'missing');
  t.is(verified.problem?.seq, 8);
});

test('an I/O error fails the write at once, later entries wait, and all of them land in order when the disk is back', async (t) => {
  const dir = tempDir(t);
  const faults = faultyFs();
  const trail = await openTrail(t, dir, {}, { fs: faults.fs });
  const audit = new Audit(
    { failClosed: true, readCommands: true },
    {
      trail,
      redactor: new Redactor({ key: TEST_KEY, secrets: new Map(), fields: [] }),
      clock: systemClock,
      log: memoryLogger(),
    },
  );
  await trail.append(restOf(1), 'bot.ready');
  faults.set('fail');
  const started = Date.now();
  const error = await rejection(trail.append(restOf(2), 'bot.ready'));
  t.is(error.code, 'HIVE_AUDIT_UNAVAILABLE');
  t.true(Date.now() - started < 1000);
  t.regex(error.message, /EIO/);
  t.is(trail.health.state, 'broken');
  t.false(audit.writable);
  const later = await rejection(trail.append(restOf(3), 'bot.ready'));
  t.is(later.code, 'HIVE_AUDIT_UNAVAILABLE');
  t.is(audit.status().backlog, 3, 'entries 2 and 3 and the sink_broken entry wait');
  faults.set('ok');
  await waitFor(() => audit.writable, { timeoutMs: 5000, what: 'the sink to recover' });
  await trail.flushed();
  await waitFor(() => trailEntries(dir).some((e) => e.action === 'audit.sink_recovered'), {
    what: 'the recovery entry',
  });
  const actions = trailEntries(dir).map((e) => `${e.action}${e.target ? ` ${e.target}` : ''}`);
  t.deepEqual(actions, [
    'bot.ready t1',
    'bot.ready t2',
    'audit.sink_broken',
    'bot.ready t3',
    'audit.sink_recovered',
  ]);
  t.true((await verifyDir(dir, trail)).ok);
});

test('a write that hangs counts as failed within its deadline, and what it wrote late is not written twice', async (t) => {
  const dir = tempDir(t);
  const faults = faultyFs();
  const trail = await openTrail(t, dir, { writeTimeoutMs: 200 }, { fs: faults.fs });
  await trail.append(restOf(1), 'bot.ready');
  faults.set('hang');
  const started = Date.now();
  const error = await rejection(trail.append(restOf(2), 'bot.ready'));
  const took = Date.now() - started;
  t.is(error.code, 'HIVE_AUDIT_UNAVAILABLE');
  t.true(took >= 190 && took < 1000, `failed after ${took} ms`);
  t.regex(error.message, /did not complete within 200 ms/);
  // The device comes back: the hung write lands, then the retry writes only what is missing.
  faults.set('ok');
  faults.release();
  await waitFor(() => trail.health.state === 'ok', { timeoutMs: 5000, what: 'recovery' });
  await trail.flushed();
  const targets = trailEntries(dir).map((e) => e.target);
  t.deepEqual(targets, ['t1', 't2']);
  t.true((await verifyDir(dir, trail)).ok);
});

test('a full backlog drops entries and counts them by action', async (t) => {
  const dir = tempDir(t);
  const faults = faultyFs();
  const trail = await openTrail(t, dir, { backlogMax: 5 }, { fs: faults.fs });
  const recovered = new Promise<Record<string, number>>((resolve) =>
    trail.on('health', ({ health, lost }) => {
      if (health.state === 'ok') resolve(lost);
    }),
  );
  faults.set('fail');
  await Promise.allSettled(
    Array.from({ length: 12 }, (_, i) => trail.append(restOf(i), 'bot.crash')),
  );
  t.is(trail.head.backlog, 5);
  t.is(trail.head.lost, 7);
  faults.set('ok');
  t.deepEqual(await recovered, { 'bot.crash': 7 });
  t.is(trailEntries(dir).length, 5);
});

test('a trail that cannot be opened starts broken and recovers once its folder is usable', async (t) => {
  const base = tempDir(t);
  const dir = join(base, 'audit');
  writeFileSync(dir, 'a file where the folder should be');
  const trail = new AuditTrail(trailOptions(dir), { clock: systemClock, log: memoryLogger() });
  t.teardown(() => trail.close());
  t.is(await trail.open(), undefined);
  t.is(trail.health.state, 'broken');
  t.regex(trail.health.state === 'broken' ? trail.health.reason : '', /cannot open the trail/);
  t.is((await rejection(trail.append(restOf(1), 'bot.ready'))).code, 'HIVE_AUDIT_UNAVAILABLE');
  rmSync(dir);
  await waitFor(() => trail.health.state === 'ok', { timeoutMs: 5000, what: 'recovery' });
  await trail.flushed();
  t.deepEqual(
    trailEntries(dir).map((e) => e.target),
    ['t1'],
  );
  t.true((await verifyDir(dir, trail)).ok);
});
