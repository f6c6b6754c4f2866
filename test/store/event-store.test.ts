import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  EventStore,
  type EventStoreOptions,
  type Reducer,
} from '../../daemon/store/event-store.ts';
import { Journal } from '../../daemon/store/journal.ts';
import { HiveError } from '../../protocol/errors.ts';

/**
 * A small document: a key/value map plus a running total. `add` is not
 * idempotent, so a record applied twice (or lost) changes the total.
 */
type Rec =
  | { op: 'set'; key: string; value: number }
  | { op: 'del'; key: string }
  | { op: 'add'; n: number };

interface Doc {
  values: Map<string, number>;
  total: number;
  lastSeq: number;
}

const reducer: Reducer<Doc, Rec> = {
  empty: () => ({ values: new Map(), total: 0, lastSeq: 0 }),
  apply(state, record, seq) {
    if (seq <= state.lastSeq) throw new Error(`seq ${seq} applied after ${state.lastSeq}`);
    state.lastSeq = seq;
    if (record.op === 'set') state.values.set(record.key, record.value);
    else if (record.op === 'del') state.values.delete(record.key);
    else state.total += record.n;
  },
  toSnapshot: (state) => ({
    values: [...state.values],
    total: state.total,
    lastSeq: state.lastSeq,
  }),
  fromSnapshot(data) {
    const d = data as { values: [string, number][]; total: number; lastSeq: number };
    return { values: new Map(d.values), total: d.total, lastSeq: d.lastSeq };
  },
};

/** The same fold, done by hand: what any replay must reproduce. */
function model(records: Rec[]): { values: Map<string, number>; total: number } {
  const values = new Map<string, number>();
  let total = 0;
  for (const r of records) {
    if (r.op === 'set') values.set(r.key, r.value);
    else if (r.op === 'del') values.delete(r.key);
    else total += r.n;
  }
  return { values, total };
}

function view(doc: Doc) {
  return { values: doc.values, total: doc.total };
}

/** A deterministic mix of records. */
function record(i: number): Rec {
  if (i % 3 === 0) return { op: 'add', n: i };
  if (i % 7 === 0) return { op: 'del', key: `k${i % 13}` };
  return { op: 'set', key: `k${i % 13}`, value: i };
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hive-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function store(t: ExecutionContext, dir: string, options: Partial<EventStoreOptions> = {}) {
  const s = new EventStore<Doc, Rec>(dir, 'queue', reducer, {
    compactAfterBytes: 1 << 30,
    ...options,
  });
  t.teardown(() => s.close({ compact: false }).catch(() => {}));
  return s;
}

const segmentsIn = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();

test('snapshot plus journal replay gives the same state as the live store', async (t) => {
  const dir = tempDir(t);
  const records = Array.from({ length: 150 }, (_, i) => record(i + 1));
  const a = store(t, dir);
  const first = await a.open();
  t.false(first.snapshotFound);
  for (const r of records.slice(0, 100)) await a.commit(r);
  await a.compact();
  const seqs = await Promise.all(records.slice(100).map((r) => a.commit(r)));
  t.deepEqual(
    seqs,
    Array.from({ length: 50 }, (_, i) => 101 + i),
  );
  t.deepEqual(view(a.state), model(records));
  await a.close({ compact: false });

  const b = store(t, dir);
  const report = await b.open();
  t.true(report.snapshotFound);
  t.is(report.snapshotSeq, 100);
  t.is(report.records, 50);
  t.deepEqual(report.corruptLines, []);
  t.deepEqual(view(b.state), model(records));
  t.is(b.lastSeq, 150);
  t.is(await b.commit({ op: 'add', n: 1 }), 151, 'the sequence continues after the snapshot');
});

test('a store that was never closed (kill -9) replays every committed record', async (t) => {
  const dir = tempDir(t);
  const records = Array.from({ length: 60 }, (_, i) => record(i + 1));
  const a = store(t, dir);
  await a.open();
  await Promise.all(records.slice(0, 30).map((r) => a.commit(r)));
  await a.compact();
  await Promise.all(records.slice(30).map((r) => a.commit(r)));
  // No close: the second instance sees exactly what the disk holds.
  const b = store(t, dir);
  await b.open();
  t.deepEqual(view(b.state), model(records));
});

test('compaction while appends are in flight loses nothing and applies nothing twice', async (t) => {
  const dir = tempDir(t);
  // Small threshold: compactions also start on their own, between commits.
  const a = store(t, dir, { compactAfterBytes: 4_000 });
  await a.open();
  const records: Rec[] = [];
  const commits: Promise<number>[] = [];
  const compactions: Promise<void>[] = [];
  for (let wave = 0; wave < 30; wave++) {
    for (let i = 0; i < 20; i++) {
      const r = record(records.length + 1);
      records.push(r);
      commits.push(a.commit(r));
    }
    if (wave % 4 === 1) compactions.push(a.compact());
    // Let writes and compactions interleave with the next wave.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seqs = await Promise.all(commits);
  await Promise.all(compactions);
  t.deepEqual(
    seqs,
    records.map((_, i) => i + 1),
  );
  t.deepEqual(view(a.state), model(records));
  await a.close({ compact: false });

  const snapshot = JSON.parse(readFileSync(a.snapshotPath, 'utf8')) as {
    seq: number;
    segment: number;
  };
  t.true(snapshot.seq > 0, 'a snapshot was written');
  t.true(snapshot.segment > 1, 'the journal was rotated');
  t.false(
    segmentsIn(dir).some((n) => Number(n.split('.')[1]) < snapshot.segment),
    'segments covered by the snapshot are gone',
  );

  const b = store(t, dir);
  const report = await b.open();
  t.deepEqual(report.corruptLines, []);
  t.is(report.tornTailBytes, 0);
  t.is(report.snapshotSeq + report.records, records.length);
  t.deepEqual(view(b.state), model(records));
});

test('a crash between rotate and snapshot still replays correctly', async (t) => {
  const dir = tempDir(t);
  const records = Array.from({ length: 40 }, (_, i) => record(i + 1));
  const a = store(t, dir);
  await a.open();
  for (const r of records.slice(0, 10)) await a.commit(r);
  await a.compact(); // snapshot at seq 10, live segment 2
  for (const r of records.slice(10, 25)) await a.commit(r);
  await a.close({ compact: false });

  // What compaction does up to the crash: rotate (a new segment that takes
  // further records) but no snapshot yet. The old snapshot still points at
  // segment 2.
  const raw = new Journal<Rec>(dir, 'queue', () => {});
  t.teardown(() => raw.close());
  await raw.open(2, 10);
  t.is(await raw.rotate(), 3);
  for (const r of records.slice(25)) await raw.append(r).durable;
  await raw.close();
  // A temp file the interrupted snapshot write left behind.
  writeFileSync(join(dir, '.queue.json.0123456789ab.tmp'), '{"format":1,"sta');
  t.deepEqual(segmentsIn(dir), ['queue.000002.wal', 'queue.000003.wal']);

  const b = store(t, dir);
  const report = await b.open();
  t.is(report.snapshotSeq, 10);
  t.deepEqual(report.segments, [2, 3]);
  t.is(report.records, 30);
  t.deepEqual(view(b.state), model(records));
  t.is(await b.commit({ op: 'add', n: 1 }), 41);
});

test('a crash between snapshot and dropping old segments applies nothing twice', async (t) => {
  const dir = tempDir(t);
  const records = Array.from({ length: 30 }, (_, i) => record(i + 1));
  const a = store(t, dir);
  await a.open();
  for (const r of records.slice(0, 20)) await a.commit(r);
  const segment1 = join(dir, 'queue.000001.wal');
  const kept = join(dir, 'kept.bak');
  copyFileSync(segment1, kept);
  await a.compact();
  t.false(existsSync(segment1));
  for (const r of records.slice(20)) await a.commit(r);
  await a.close({ compact: false });
  // Put the covered segment back, as if the crash came before its unlink.
  copyFileSync(kept, segment1);

  const b = store(t, dir);
  const report = await b.open();
  t.is(report.snapshotSeq, 20);
  t.deepEqual(report.segments, [2]);
  t.deepEqual(view(b.state), model(records), 'the running total counts each add once');
  t.false(existsSync(segment1), 'the leftover segment is removed at open');
});

test('a corrupt snapshot file throws HIVE_STORE_CORRUPT', async (t) => {
  const dir = tempDir(t);
  const a = store(t, dir);
  await a.open();
  for (let i = 1; i <= 10; i++) await a.commit(record(i));
  await a.compact();
  await a.close({ compact: false });
  const good = readFileSync(a.snapshotPath, 'utf8');

  const damaged: [string, string][] = [
    ['truncated', good.slice(0, Math.floor(good.length / 2))],
    ['empty (renamed but never synced)', ''],
    ['valid JSON but not a snapshot', '{"hello":"world"}'],
    ['a snapshot without its segment', '{"format":1,"name":"queue","seq":10,"state":{}}'],
  ];
  for (const [what, text] of damaged) {
    writeFileSync(a.snapshotPath, text);
    const b = store(t, dir);
    const error = await t.throwsAsync(b.open(), { instanceOf: HiveError }, what);
    t.is(error?.code, 'HIVE_STORE_CORRUPT', what);
    t.true(error?.message.includes(a.snapshotPath), `${what}: the message names the file`);
  }
});

test('close with compact leaves only a snapshot and an empty live segment', async (t) => {
  const dir = tempDir(t);
  const records = Array.from({ length: 25 }, (_, i) => record(i + 1));
  const a = store(t, dir);
  await a.open();
  await Promise.all(records.map((r) => a.commit(r)));
  await a.close({ compact: true });
  t.deepEqual(segmentsIn(dir), ['queue.000002.wal']);
  t.is(readFileSync(join(dir, 'queue.000002.wal'), 'utf8'), '');

  const b = store(t, dir);
  const report = await b.open();
  t.is(report.snapshotSeq, 25);
  t.is(report.records, 0);
  t.deepEqual(view(b.state), model(records));
});

test('no compaction runs after close, even one the last commit scheduled', async (t) => {
  const dir = tempDir(t);
  const a = store(t, dir, { compactAfterBytes: 100 });
  await a.open();
  // Each apply past the threshold schedules a compaction for the next turn.
  await Promise.all(Array.from({ length: 10 }, (_, i) => a.commit(record(i + 1))));
  await a.close({ compact: false });
  const after = segmentsIn(dir);
  const snapshotAfter = existsSync(a.snapshotPath) ? readFileSync(a.snapshotPath, 'utf8') : null;
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  // An explicit compaction after close is a no-op too (it used to open a new segment).
  await a.compact();
  t.deepEqual(segmentsIn(dir), after, 'no new segment appears after close');
  t.is(
    existsSync(a.snapshotPath) ? readFileSync(a.snapshotPath, 'utf8') : null,
    snapshotAfter,
    'no snapshot is written after close',
  );
});
