import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { AuditTrail } from '../../daemon/audit/trail.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import { entryBody, linkOf, MacKey, parseSeal, sealNode } from '../../protocol/audit-chain.ts';
import { type Checkpoint, verifyTrail } from '../../protocol/audit-verify.ts';
import {
  asTrailFiles,
  memoryLogger,
  restOf,
  TEST_KEY,
  trailFiles,
  trailOptions,
} from '../helpers/audit.ts';

type Files = ReturnType<typeof trailFiles>;

const ENTRIES = 120;
let dir = '';
let pristine: Files = [];
let head: Checkpoint = { seq: 0, hash: '' };

/** A keyed trail of 120 entries over several segments, written by the real writer. */
test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hive-audit-verify-'));
  const trail = new AuditTrail(trailOptions(dir, { rotateBytes: 8 * 1024 }), {
    clock: systemClock,
    log: memoryLogger(),
  });
  await trail.open();
  for (let i = 1; i <= ENTRIES; i++) await trail.append(restOf(i), 'bot.ready');
  head = { seq: trail.head.seq, hash: trail.head.hash };
  await trail.close();
  pristine = trailFiles(dir);
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function copy(files: Files): Files {
  return files.map((f) => ({ ...f, data: Buffer.from(f.data) }));
}

function verify(files: Files, options: { key?: MacKey | undefined; checkpoint?: Checkpoint } = {}) {
  return verifyTrail(asTrailFiles(files), {
    key: 'key' in options ? options.key : TEST_KEY,
    checkpoint: options.checkpoint ?? head,
  });
}

/** Every line of a file with its byte range (newline included) and the seq it stands for. */
function linesOf(data: Buffer): { start: number; end: number; seq: number; text: string }[] {
  const out: { start: number; end: number; seq: number; text: string }[] = [];
  let start = 0;
  let firstSeq = 0;
  while (start < data.length) {
    const nl = data.indexOf(10, start);
    const text = data.toString('utf8', start, nl);
    const parsed = JSON.parse(text) as { seq?: number; firstSeq?: number };
    // A segment header stands for the first entry of its segment.
    if (parsed.firstSeq !== undefined) firstSeq = parsed.firstSeq;
    out.push({ start, end: nl + 1, seq: parsed.seq ?? firstSeq, text });
    start = nl + 1;
  }
  return out;
}

function linkOfLine(text: string): string {
  const { hash, mac } = JSON.parse(text) as { hash: string; mac?: string };
  return linkOf(hash, mac);
}

function rebuild(lines: { text: string }[]): Buffer {
  return Buffer.from(lines.map((l) => `${l.text}\n`).join(''));
}

/** A small seeded generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('the trail as written verifies: every entry, every segment, every MAC', async (t) => {
  t.true(pristine.length >= 4, `${pristine.length} files: rotation happened`);
  const report = await verify(pristine);
  t.true(report.ok, JSON.stringify(report.problem));
  t.is(report.entries, ENTRIES);
  t.is(report.segments, pristine.length);
  t.is(report.macs, 'checked');
  t.is(report.lastSeq, ENTRIES);
});

test('a line is JSON whose hash is SHA-256 of the bytes before its hash field, whose MAC is HMAC-SHA256 of that hash, and the next line links to SHA-256 of both', (t) => {
  const lines = linesOf(pristine.at(-1)?.data ?? Buffer.alloc(0));
  const line = lines.at(-2)?.text ?? '';
  const entry = JSON.parse(line) as { hash: string; mac: string };
  const body = line.slice(0, line.indexOf(',"hash":"'));
  t.is(entry.hash, createHash('sha256').update(body).digest('hex'));
  t.is(
    entry.mac,
    createHmac('sha256', '0123456789abcdef0123456789abcdef').update(entry.hash).digest('hex'),
  );
  const next = JSON.parse(lines.at(-1)?.text ?? '{}') as { prev: string };
  t.is(
    next.prev,
    createHash('sha256')
      .update(entry.hash + entry.mac)
      .digest('hex'),
  );
});

test('MacKey computes HMAC-SHA256 exactly like createHmac, for short, block-sized and long keys and messages', (t) => {
  for (const keyLength of [16, 32, 64, 65, 200]) {
    const secret = randomBytes(keyLength);
    const key = new MacKey(secret);
    for (const length of [0, 1, 64, 255, 256, 257, 5000]) {
      const message = randomBytes(length).toString('base64').slice(0, length);
      t.is(key.mac(message), createHmac('sha256', secret).update(message).digest('hex'));
    }
  }
});

test('1,000 random single-byte changes anywhere in the trail: each is found, at the changed entry', async (t) => {
  const seed = Number(process.env.AUDIT_FUZZ_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed} (AUDIT_FUZZ_SEED=${seed} replays it)`);
  const random = prng(seed);
  const files = copy(pristine);
  const total = files.reduce((n, f) => n + f.data.length, 0);
  const maps = files.map((f) => linesOf(f.data));
  for (let i = 0; i < 1000; i++) {
    let offset = Math.floor(random() * total);
    let index = 0;
    while (offset >= (files[index]?.data.length ?? 0)) offset -= files[index++]?.data.length ?? 0;
    const file = files[index] as Files[number];
    const original = file.data[offset] as number;
    const replacement = (original + 1 + Math.floor(random() * 255)) % 256;
    const line = maps[index]?.find((l) => offset >= l.start && offset < l.end);
    file.data[offset] = replacement;
    const report = await verify(files);
    file.data[offset] = original;
    const where = `change ${i}: ${file.name} byte ${offset} ${original}→${replacement}`;
    if (report.ok) t.fail(`${where} went unnoticed`);
    else if (report.problem?.seq !== line?.seq)
      t.fail(
        `${where}: reported entry ${report.problem?.seq}, changed ${line?.seq}: ${report.problem?.message}`,
      );
  }
  t.pass();
});

/** Applies `edit` to the lines of file `index` and verifies. */
async function tampered(
  index: number,
  edit: (lines: ReturnType<typeof linesOf>) => { text: string }[],
  options: { checkpoint?: Checkpoint } = {},
) {
  const files = copy(pristine);
  const file = files[index] as Files[number];
  file.data = rebuild(edit(linesOf(file.data)));
  return verify(files, options);
}

test('a deleted entry is named missing, with its sequence number', async (t) => {
  const report = await tampered(1, (lines) => lines.filter((_, i) => i !== 5));
  const seq = linesOf(pristine[1]?.data as Buffer)[5]?.seq;
  t.is(report.problem?.kind, 'missing');
  t.is(report.problem?.seq, seq);
  t.regex(report.problem?.message ?? '', new RegExp(`entry ${seq} is missing`));
});

test('two deleted entries are named as a range', async (t) => {
  const report = await tampered(1, (lines) => lines.filter((_, i) => i !== 5 && i !== 6));
  const seq = linesOf(pristine[1]?.data as Buffer)[5]?.seq as number;
  t.is(report.problem?.kind, 'missing');
  t.regex(report.problem?.message ?? '', new RegExp(`entries ${seq}..${seq + 1} are missing`));
});

test('a duplicated entry is named duplicated', async (t) => {
  const report = await tampered(2, (lines) => [...lines.slice(0, 4), ...lines.slice(3)]);
  t.is(report.problem?.kind, 'duplicated');
  t.is(report.problem?.seq, linesOf(pristine[2]?.data as Buffer)[3]?.seq);
});

test('two swapped entries are named reordered', async (t) => {
  const report = await tampered(2, (lines) => {
    const out = [...lines];
    [out[4], out[5]] = [out[5] as (typeof out)[number], out[4] as (typeof out)[number]];
    return out;
  });
  t.is(report.problem?.kind, 'reordered');
  t.is(report.problem?.seq, linesOf(pristine[2]?.data as Buffer)[4]?.seq);
});

test('a live file cut in the middle of a line is named truncated', async (t) => {
  const files = copy(pristine);
  const live = files.at(-1) as Files[number];
  const last = linesOf(live.data).at(-1);
  live.data = live.data.subarray(0, (last?.start ?? 0) + 40);
  const report = await verify(files);
  t.is(report.problem?.kind, 'truncated');
  t.is(report.problem?.seq, last?.seq);
});

test('a live file cut at a line boundary is named truncated against what hived wrote', async (t) => {
  const files = copy(pristine);
  const live = files.at(-1) as Files[number];
  const lines = linesOf(live.data);
  live.data = live.data.subarray(0, lines.at(-3)?.start);
  const report = await verify(files);
  t.is(report.problem?.kind, 'truncated');
  t.is(report.problem?.seq, lines.at(-3)?.seq);
  t.regex(report.problem?.message ?? '', new RegExp(`hived wrote up to ${ENTRIES}`));
});

test('a rotated segment cut at a line boundary is named truncated at the first lost entry', async (t) => {
  const lines = linesOf(pristine[1]?.data as Buffer);
  const report = await tampered(1, (l) => l.slice(0, -2));
  t.is(report.problem?.kind, 'truncated');
  t.is(report.problem?.seq, lines.at(-2)?.seq);
  t.regex(report.problem?.message ?? '', /end of segment 2 was cut off/);
});

test('a whole middle segment deleted is named as such, with its entries', async (t) => {
  const files = copy(pristine).filter((_, i) => i !== 2);
  const first = linesOf(pristine[2]?.data as Buffer)[1]?.seq;
  const report = await verify(files);
  t.is(report.problem?.kind, 'segment_missing');
  t.is(report.problem?.seq, first);
  t.regex(report.problem?.message ?? '', /segment 3 is missing \(deleted\)/);
});

test('the first segment deleted without a retention anchor is named missing from entry 1', async (t) => {
  const report = await verify(copy(pristine).slice(1));
  t.is(report.problem?.kind, 'segment_missing');
  t.is(report.problem?.seq, 1);
});

test('an entry rewritten with its chain recomputed but without the key fails its MAC there', async (t) => {
  const files = copy(pristine);
  const file = files[1] as Files[number];
  const lines = linesOf(file.data);
  const target = lines[3] as (typeof lines)[number];
  // Re-seal the rest of the segment with a different key, as a forger would.
  const forger = new MacKey(Buffer.from('not the real key, not the real key'));
  let prev = linkOfLine(lines[2]?.text ?? '{}');
  const out = lines.slice(0, 3).map((l) => l.text);
  for (const line of lines.slice(3)) {
    const e = JSON.parse(line.text) as { seq: number; time: string };
    const rest = line.text.slice(line.text.indexOf('"action"'), line.text.indexOf(',"hash":"'));
    const changed = line === target ? rest.replace('"actor":"tester"', '"actor":"nobody"') : rest;
    const sealed = sealNode(entryBody(e.seq, prev, e.time, changed), forger);
    prev = sealed.link;
    out.push(sealed.line.trimEnd());
  }
  file.data = rebuild(out.map((text) => ({ text })));
  const report = await verify(files);
  t.is(report.problem?.kind, 'changed');
  t.is(report.problem?.seq, target.seq);
  t.regex(report.problem?.message ?? '', /MAC does not match/);
});

test('without a key, a recomputed chain still differs from the head hived recorded', async (t) => {
  const files = copy(pristine);
  const live = files.at(-1) as Files[number];
  const lines = linesOf(live.data);
  const last = lines.at(-1) as (typeof lines)[number];
  const prevHash = linkOfLine(lines.at(-2)?.text ?? '{}');
  const e = JSON.parse(last.text) as { seq: number; time: string };
  const rest = last.text.slice(last.text.indexOf('"action"'), last.text.indexOf(',"hash":"'));
  const forged = sealNode(
    entryBody(e.seq, prevHash, e.time, rest.replace('t120', 't999')),
    undefined,
  );
  live.data = rebuild([...lines.slice(0, -1), { text: forged.line.trimEnd() }]);
  const report = await verify(files, { key: undefined });
  t.is(report.problem?.kind, 'changed');
  t.is(report.problem?.seq, last.seq);
  t.regex(report.problem?.message ?? '', /chain was rewritten/);
});

test('the wrong key is named as such, not as tampering', async (t) => {
  const report = await verify(pristine, {
    key: new MacKey(Buffer.from('some other key of 32 bytes ....')),
  });
  t.is(report.problem?.kind, 'wrong_key');
  t.is(report.problem?.seq, 1);
});

test('without a key the chain still verifies and says its MACs were not checked', async (t) => {
  const report = await verify(pristine, { key: undefined });
  t.true(report.ok);
  t.is(report.macs, 'unchecked');
});

test('the hash field of a line is found by position', (t) => {
  const data = pristine[0]?.data as Buffer;
  const end = data.indexOf(10, data.indexOf(10) + 1);
  const start = data.indexOf(10) + 1;
  const seal = parseSeal(data, start, end);
  t.is(seal?.hash, (JSON.parse(data.toString('utf8', start, end)) as { hash: string }).hash);
});
