import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Journal, type JournalEntry, type JournalFs } from '../../daemon/store/journal.ts';
import { HiveError } from '../../protocol/errors.ts';

interface Rec {
  n: number;
  text?: string;
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hive-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A journal plus everything it applied, closed when the test ends. */
function journal(t: ExecutionContext, dir: string, fs?: JournalFs) {
  const applied: JournalEntry<Rec>[] = [];
  const j = new Journal<Rec>(dir, 'q', (entry) => applied.push(entry), fs);
  t.teardown(() => j.close());
  return { j, applied };
}

/** Real writes, counted; `hook` runs at the start of each write. */
function countingFs(hook?: (writeNo: number) => void) {
  const counts = { writes: 0, syncs: 0 };
  const fs: JournalFs = {
    async write(handle: FileHandle, data: string) {
      counts.writes += 1;
      hook?.(counts.writes);
      await handle.write(data);
    },
    async sync(handle: FileHandle) {
      counts.syncs += 1;
      await handle.datasync();
    },
  };
  return { fs, counts };
}

async function appendAll(j: Journal<Rec>, from: number, to: number): Promise<number[]> {
  const appends = [];
  for (let n = from; n <= to; n++) appends.push(j.append({ n }));
  await Promise.all(appends.map((a) => a.durable));
  return appends.map((a) => a.seq);
}

const seqs = (entries: JournalEntry<Rec>[]) => entries.map((e) => e.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('group commit: concurrent appends share writes, all resolve, applied in seq order', async (t) => {
  const dir = tempDir(t);
  const later: { seq: number; durable: Promise<void> }[] = [];
  let j!: Journal<Rec>;
  // While the first write is in flight, 100 more appends arrive: they must
  // all ride on the next write rather than one write each.
  const { fs, counts } = countingFs((writeNo) => {
    if (writeNo === 1) for (let n = 101; n <= 200; n++) later.push(j.append({ n }));
  });
  const opened = journal(t, dir, fs);
  j = opened.j;
  await j.open(1, 0);

  const resolvedBeforeApplied: number[] = [];
  const first = range(1, 100).map((n) => j.append({ n }));
  const all = [...first];
  const waits = first.map((a) =>
    a.durable.then(() => {
      if (!opened.applied.some((e) => e.seq === a.seq)) resolvedBeforeApplied.push(a.seq);
    }),
  );
  await Promise.all(waits);
  await j.flushed();
  all.push(...later);
  await Promise.all(later.map((a) => a.durable));

  t.is(all.length, 200);
  t.deepEqual(
    all.map((a) => a.seq),
    range(1, 200),
    'seqs are assigned at append, in order',
  );
  t.is(counts.writes, 2, 'two writes for 200 appends');
  t.is(counts.syncs, 2);
  t.deepEqual(resolvedBeforeApplied, [], 'a record is applied before its append resolves');
  t.deepEqual(seqs(opened.applied), range(1, 200), 'applied once each, in seq order');
  t.deepEqual(
    opened.applied.map((e) => e.record.n),
    range(1, 200),
  );
  t.is(j.lastSeq, 200);
});

test('replay after reopen returns every record and continues the sequence', async (t) => {
  const dir = tempDir(t);
  const a = journal(t, dir);
  await a.j.open(1, 0);
  await appendAll(a.j, 1, 50);
  await a.j.append({ n: 51, text: 'ünïcødé\nwith a newline and a \f' }).durable;
  await a.j.close();

  const b = journal(t, dir);
  const report = await b.j.open(1, 0);
  t.deepEqual(report, { segments: [1], records: 51, tornTailBytes: 0, corruptLines: [] });
  t.deepEqual(seqs(b.applied), range(1, 51));
  t.deepEqual(b.applied.at(-1)?.record, { n: 51, text: 'ünïcødé\nwith a newline and a \f' });
  t.is(b.j.lastSeq, 51);
  const next = b.j.append({ n: 52 });
  t.is(next.seq, 52);
  await next.durable;
  await b.j.close();

  // Records at or below afterSeq (already in a snapshot) are not applied again.
  const c = journal(t, dir);
  const partial = await c.j.open(1, 40);
  t.is(partial.records, 12);
  t.deepEqual(seqs(c.applied), range(41, 52));
  t.is(c.j.lastSeq, 52);
});

test('a torn last line is cut off and reported; later appends replay cleanly', async (t) => {
  const dir = tempDir(t);
  const a = journal(t, dir);
  await a.j.open(1, 0);
  await appendAll(a.j, 1, 5);
  await a.j.close();

  const path = a.j.segmentPath(1);
  const text = readFileSync(path, 'utf8');
  const lastLineStart = text.lastIndexOf('\n', text.length - 2) + 1;
  const cutAt = lastLineStart + 12; // inside the fifth record's JSON
  truncateSync(path, cutAt);

  const b = journal(t, dir);
  const report = await b.j.open(1, 0);
  t.is(report.records, 4);
  t.is(report.tornTailBytes, cutAt - lastLineStart);
  t.deepEqual(report.corruptLines, []);
  t.deepEqual(seqs(b.applied), range(1, 4));
  t.is(statSync(path).size, lastLineStart, 'the partial line is gone from the file');

  const next = b.j.append({ n: 99 });
  t.is(next.seq, 5, 'the lost record never became durable, so its seq is reused');
  await next.durable;
  await b.j.close();

  const c = journal(t, dir);
  const clean = await c.j.open(1, 0);
  t.deepEqual(clean, { segments: [1], records: 5, tornTailBytes: 0, corruptLines: [] });
  t.deepEqual(
    c.applied.map((e) => e.record.n),
    [1, 2, 3, 4, 99],
  );
});

test('a corrupt line in the middle is reported and skipped; the rest replays', async (t) => {
  const dir = tempDir(t);
  const a = journal(t, dir);
  await a.j.open(1, 0);
  await appendAll(a.j, 1, 5);
  await a.j.close();

  const path = a.j.segmentPath(1);
  const bytes = readFileSync(path);
  const secondLine = bytes.indexOf(0x0a) + 1;
  const target = bytes.indexOf('"n":2', secondLine) + 4; // the digit 2
  bytes[target] = '7'.charCodeAt(0); // still valid JSON: only the checksum can tell
  writeFileSync(path, bytes);

  const b = journal(t, dir);
  const report = await b.j.open(1, 0);
  t.deepEqual(report.corruptLines, [{ segment: 1, line: 2 }]);
  t.is(report.tornTailBytes, 0);
  t.is(report.records, 4);
  t.deepEqual(seqs(b.applied), [1, 3, 4, 5]);
  t.false(
    b.applied.some((e) => e.record.n === 7),
    'the altered record is not applied',
  );
  t.is(b.j.lastSeq, 5);
  t.is(b.j.append({ n: 6 }).seq, 6);
  await b.j.flushed();
});

test('rotation starts a new segment; dropSegmentsBefore deletes the old ones', async (t) => {
  const dir = tempDir(t);
  const a = journal(t, dir);
  await a.j.open(1, 0);
  await appendAll(a.j, 1, 3);
  t.is(a.j.segment, 1);

  // Appended in the same turn as the rotation starts: must land in the new segment.
  const rotation = a.j.rotate();
  const during = a.j.append({ n: 4 });
  t.is(await rotation, 2);
  await during.durable;
  await appendAll(a.j, 5, 6);
  t.deepEqual(await a.j.listSegments(), [1, 2]);
  t.is(readFileSync(a.j.segmentPath(1), 'utf8').trimEnd().split('\n').length, 3);
  t.is(readFileSync(a.j.segmentPath(2), 'utf8').trimEnd().split('\n').length, 3);
  t.is(a.j.segmentBytes, statSync(a.j.segmentPath(2)).size);

  await a.j.dropSegmentsBefore(2);
  t.deepEqual(await a.j.listSegments(), [2]);
  await a.j.close();

  const b = journal(t, dir);
  const report = await b.j.open(2, 3);
  t.deepEqual(report.segments, [2]);
  t.deepEqual(seqs(b.applied), [4, 5, 6]);
  t.is(b.j.segment, 2, 'appends continue in the newest segment');
  await b.j.append({ n: 7 }).durable;
  t.is(readFileSync(b.j.segmentPath(2), 'utf8').trimEnd().split('\n').length, 4);
});

test('replay spans several segments in order', async (t) => {
  const dir = tempDir(t);
  const a = journal(t, dir);
  await a.j.open(1, 0);
  for (let round = 0; round < 4; round++) {
    await appendAll(a.j, round * 10 + 1, round * 10 + 10);
    await a.j.rotate();
  }
  t.deepEqual(await a.j.listSegments(), [1, 2, 3, 4, 5]);
  await a.j.close();

  const b = journal(t, dir);
  const report = await b.j.open(1, 0);
  t.deepEqual(report.segments, [1, 2, 3, 4, 5]);
  t.deepEqual(seqs(b.applied), range(1, 40));
  t.is(b.j.segment, 5);
});

test('an injected write error rejects its batch, applies nothing of it and leaves the file clean', async (t) => {
  const dir = tempDir(t);
  let failing: 'write' | 'sync' | undefined;
  const fs: JournalFs = {
    async write(handle, data) {
      if (failing === 'write') {
        // A partial write, then the disk fills up.
        await handle.write(data.slice(0, Math.floor(data.length / 2)));
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      await handle.write(data);
    },
    async sync(handle) {
      if (failing === 'sync') throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      await handle.datasync();
    },
  };
  const a = journal(t, dir, fs);
  await a.j.open(1, 0);
  await appendAll(a.j, 1, 3);
  const path = a.j.segmentPath(1);
  const sizeBefore = statSync(path).size;

  for (const mode of ['write', 'sync'] as const) {
    failing = mode;
    const batch = [a.j.append({ n: 100 }), a.j.append({ n: 101 }), a.j.append({ n: 102 })];
    const results = await Promise.allSettled(batch.map((b) => b.durable));
    failing = undefined;
    for (const result of results) {
      t.is(result.status, 'rejected', mode);
      const reason = result.status === 'rejected' ? (result.reason as unknown) : undefined;
      t.true(reason instanceof HiveError, mode);
      t.is((reason as HiveError).code, 'HIVE_STORE_WRITE_FAILED', mode);
    }
    t.deepEqual(
      a.applied.map((e) => e.record.n),
      [1, 2, 3],
      `${mode}: nothing of the failed batch is applied`,
    );
    t.is(statSync(path).size, sizeBefore, `${mode}: the file is truncated back`);
    t.is(a.j.segmentBytes, sizeBefore);
  }

  await a.j.append({ n: 4 }).durable;
  t.deepEqual(
    a.applied.map((e) => e.record.n),
    [1, 2, 3, 4],
  );
  await a.j.close();

  const b = journal(t, dir);
  const report = await b.j.open(1, 0);
  t.is(report.tornTailBytes, 0);
  t.deepEqual(report.corruptLines, []);
  t.deepEqual(
    b.applied.map((e) => e.record.n),
    [1, 2, 3, 4],
  );
});

test('appends after close are refused', async (t) => {
  const dir = tempDir(t);
  const a = journal(t, dir);
  await a.j.open(1, 0);
  await appendAll(a.j, 1, 2);
  await a.j.close();
  await t.throwsAsync(a.j.append({ n: 3 }).durable, { message: /closed/ });
  t.is(a.applied.length, 2);
});
