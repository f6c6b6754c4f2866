import type { FileHandle } from 'node:fs/promises';
import {
  type AuditEntry,
  type AuditStats,
  SEVERITIES,
  type Severity,
} from '../../protocol/audit.ts';
import { isHeaderLine, parseEntryHead, TIME_LENGTH } from '../../protocol/audit-chain.ts';
import { headerOf } from './segments.ts';
import type { SegmentRef, TrailSnapshot } from './trail.ts';

/** What `hive audit query` filters on; every field optional. */
export interface AuditFilter {
  actor?: string;
  /** Exact (`bot.crash`), or a family (`bot`, `command.task`). */
  action?: string;
  target?: string;
  /** At least this severe. */
  severity?: Severity;
  /** Trail time range, epoch ms, inclusive. */
  since?: number;
  until?: number;
  /** Case-insensitive (ASCII) text anywhere in the entry's fields. */
  text?: string;
  /** Paging: only entries before this sequence number. */
  before?: number;
}

const CHUNK = 1 << 20;
const HASH_FIELD = ',"hash":"';

/** A region of a chunk holding complete lines, each ended by a newline. */
interface Region {
  buf: Buffer;
  start: number;
  end: number;
}

/**
 * The complete lines of a file from its end backwards, a megabyte at a
 * time: the newest entries come first and a query with a limit stops early.
 */
export async function* regionsBackward(handle: FileHandle, size: number): AsyncGenerator<Region> {
  let pos = size;
  let carry = Buffer.alloc(0);
  while (pos > 0) {
    const n = Math.min(CHUNK, pos);
    pos -= n;
    const buf = Buffer.allocUnsafe(n + carry.length);
    await handle.read(buf, 0, n, pos);
    carry.copy(buf, n);
    const first = pos > 0 ? buf.indexOf(10) + 1 : 0;
    if (pos > 0 && first === 0) {
      carry = buf; // one line longer than the chunk: keep gathering
      continue;
    }
    if (first < buf.length) yield { buf, start: first, end: buf.length };
    carry = buf.subarray(0, first);
  }
}

/** The complete lines of a file from `from` on, a megabyte at a time. */
export async function* regionsForward(
  handle: FileHandle,
  from: number,
  size: number,
): AsyncGenerator<Region & { offset: number }> {
  let pos = from;
  let carry = Buffer.alloc(0);
  while (pos < size) {
    const n = Math.min(CHUNK, size - pos);
    const buf = Buffer.allocUnsafe(carry.length + n);
    carry.copy(buf, 0);
    await handle.read(buf, carry.length, n, pos);
    const offset = pos - carry.length;
    pos += n;
    const last = buf.lastIndexOf(10) + 1;
    if (last > 0) yield { buf, start: 0, end: last, offset };
    carry = buf.subarray(last);
  }
}

/** Line starts and ends (the newline) of a region, newest first. */
function* linesBackward(r: Region): Generator<[number, number]> {
  let end = r.end - 1;
  while (end >= r.start) {
    const start = Math.max(r.start, r.buf.lastIndexOf(10, end - 1) + 1);
    yield [start, end];
    end = start - 1;
  }
}

function timeAt(buf: Buffer, start: number, end: number): string | undefined {
  const head = parseEntryHead(buf, start, end);
  return head && buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH);
}

const iso = (ms: number) => new Date(ms).toISOString();
const RANK: Record<string, number> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i]));

/** A filter prepared for scanning: needles find candidate lines, `matches` decides. */
class CompiledFilter {
  readonly since: string | undefined;
  readonly until: string | undefined;
  readonly before: number | undefined;
  /** Byte strings one of which a matching line must contain (none: every line is a candidate). */
  readonly needles: Buffer[];
  readonly #filter: AuditFilter;
  readonly #text: string | undefined;

  constructor(filter: AuditFilter) {
    this.#filter = filter;
    this.since = filter.since === undefined ? undefined : iso(filter.since);
    this.until = filter.until === undefined ? undefined : iso(filter.until);
    this.before = filter.before;
    this.#text =
      filter.text === undefined
        ? undefined
        : Buffer.from(filter.text, 'utf8').toString('latin1').toLowerCase();
    this.needles = this.#pickNeedles().map((n) => Buffer.from(n, 'utf8'));
  }

  /** The most selective field's exact bytes, as written by the trail. */
  #pickNeedles(): string[] {
    const f = this.#filter;
    if (f.target !== undefined) return [`,"target":${JSON.stringify(f.target)},`];
    if (f.actor !== undefined) return [`,"actor":${JSON.stringify(f.actor)},"`];
    if (f.action !== undefined) {
      return f.action.includes('.') && !f.action.endsWith('.')
        ? [`,"action":"${f.action}","`, `,"action":"${f.action}.`]
        : [`,"action":"${f.action.replace(/\.$/, '')}.`];
    }
    if (f.severity && f.severity !== 'info') {
      return SEVERITIES.slice(RANK[f.severity]).map((s) => `,"severity":"${s}",`);
    }
    return [];
  }

  get textNeedle(): string | undefined {
    return this.needles.length === 0 ? this.#text : undefined;
  }

  /** The entry on this line if it passes every filter but the time range (checked by the caller). */
  matches(buf: Buffer, start: number, end: number, timeAtOffset: number): AuditEntry | undefined {
    const f = this.#filter;
    if (this.#text !== undefined) {
      const bodyEnd = buf.lastIndexOf(HASH_FIELD, end);
      const body = buf.toString('latin1', timeAtOffset, bodyEnd).toLowerCase();
      if (!body.includes(this.#text)) return undefined;
    }
    let entry: AuditEntry;
    try {
      entry = JSON.parse(buf.toString('utf8', start, end)) as AuditEntry;
    } catch {
      return undefined;
    }
    if (f.actor !== undefined && entry.actor !== f.actor) return undefined;
    if (f.target !== undefined && entry.target !== f.target) return undefined;
    if (f.action !== undefined) {
      const family = f.action.replace(/\.$/, '');
      if (entry.action !== family && !entry.action.startsWith(`${family}.`)) return undefined;
    }
    if (f.severity && (RANK[entry.severity] ?? 0) < (RANK[f.severity] ?? 0)) return undefined;
    return entry;
  }
}

/** Positions of candidate lines in a region (line start and end), newest first. */
function candidates(r: Region, filter: CompiledFilter): [number, number][] | undefined {
  const text = filter.textNeedle;
  if (filter.needles.length === 0 && text === undefined) return undefined;
  const hits: number[] = [];
  if (text !== undefined) {
    const lower = r.buf.toString('latin1', r.start, r.end).toLowerCase();
    for (let i = lower.indexOf(text); i !== -1; i = lower.indexOf(text, i + 1))
      hits.push(r.start + i);
  } else {
    for (const needle of filter.needles) {
      for (
        let i = r.buf.indexOf(needle, r.start);
        i !== -1 && i < r.end;
        i = r.buf.indexOf(needle, i + 1)
      )
        hits.push(i);
    }
  }
  hits.sort((a, b) => b - a);
  const lines: [number, number][] = [];
  let lastStart = -1;
  for (const hit of hits) {
    const start = r.buf.lastIndexOf(10, hit) + 1;
    if (start === lastStart || start < r.start) continue;
    lastStart = start;
    lines.push([start, r.buf.indexOf(10, hit)]);
  }
  return lines;
}

export interface QueryResult {
  entries: AuditEntry[];
  /** Pass as `before` for the next page (null: no more). */
  next: number | null;
}

/** The newest `limit` entries matching `filter`, newest first. */
export async function queryTrail(
  snapshot: TrailSnapshot,
  filter: AuditFilter,
  limit: number,
): Promise<QueryResult> {
  const compiled = new CompiledFilter(filter);
  const entries: AuditEntry[] = [];
  for (const ref of [...snapshot.segments].reverse()) {
    const done = await scanSegment(ref, compiled, (entry) => {
      entries.push(entry);
      return entries.length >= limit;
    });
    if (done) break;
  }
  const last = entries.at(-1);
  return { entries, next: entries.length >= limit && last ? last.seq : null };
}

/**
 * Scans one segment newest first, calling `take` for each match until it
 * returns true. Returns true when the scan should stop (limit reached, or
 * entries older than `since`, which means every older segment is too).
 */
async function scanSegment(
  ref: SegmentRef,
  filter: CompiledFilter,
  take: (entry: AuditEntry) => boolean,
): Promise<boolean> {
  if (await skippable(ref, filter)) return false;
  const file = await ref.open();
  if (!file) return false;
  for await (const region of regionsBackward(file.handle, file.size)) {
    const oldest = firstTime(region);
    if (filter.until !== undefined && oldest !== undefined && oldest > filter.until) continue;
    const lines = candidates(region, filter) ?? linesBackward(region);
    for (const [start, end] of lines) {
      const head = parseEntryHead(region.buf, start, end);
      if (!head) continue;
      if (filter.before !== undefined && head.seq >= filter.before) continue;
      const time = region.buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH);
      if (filter.since !== undefined && time < filter.since) return true;
      if (filter.until !== undefined && time > filter.until) continue;
      const entry = filter.matches(region.buf, start, end, head.timeAt);
      if (entry && take(entry)) return true;
    }
    if (filter.since !== undefined && oldest !== undefined && oldest < filter.since) return true;
  }
  return false;
}

/** Time of the oldest entry in a region (its first line that is an entry). */
function firstTime(r: Region): string | undefined {
  let start = r.start;
  if (isHeaderLine(r.buf, start)) start = r.buf.indexOf(10, start) + 1;
  if (start >= r.end) return undefined;
  return timeAt(r.buf, start, r.buf.indexOf(10, start));
}

/** A whole segment can be skipped when its header shows it lies after `until` or `before`. */
async function skippable(ref: SegmentRef, filter: CompiledFilter): Promise<boolean> {
  if (filter.until === undefined && filter.before === undefined) return false;
  const header = await readSegmentHeader(ref);
  if (!header) return false;
  if (filter.before !== undefined && header.firstSeq >= filter.before) return true;
  return filter.until !== undefined && header.created > filter.until;
}

export async function readSegmentHeader(ref: SegmentRef) {
  const file = await ref.open();
  return file && (await headerOf(file.handle))?.header;
}

/** The value of a string field at `at` (the opening quote of `"name":"`), and where it ends. */
function stringField(buf: Buffer, at: number, name: string): [string, number] | undefined {
  const open = at + name.length + 4;
  const close = buf.indexOf(0x22, open);
  return close === -1 ? undefined : [buf.toString('latin1', open, close), close + 1];
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * Counts by action, actor, severity and hour over a time range. Fields are
 * read by position (they are always first, in a fixed order), no JSON parse.
 */
export async function statsOfTrail(
  snapshot: TrailSnapshot,
  range: { since?: number; until?: number },
): Promise<AuditStats> {
  const filter = new CompiledFilter(range);
  const stats: AuditStats = {
    entries: 0,
    firstSeq: null,
    lastSeq: null,
    from: null,
    to: null,
    byAction: {},
    byActor: {},
    bySeverity: {},
    perHour: {},
  };
  for (const ref of [...snapshot.segments].reverse()) {
    const done = await scanLines(ref, filter, (buf, head) => {
      // After the time value: `","` then an optional `"at":"…",`, then action, severity, actor.
      let at = head.timeAt + TIME_LENGTH + 2;
      if (buf[at + 1] === 0x61 && buf[at + 2] === 0x74) at += 6 + TIME_LENGTH + 2;
      const action = stringField(buf, at, 'action');
      const severity = action && stringField(buf, action[1] + 1, 'severity');
      const actor = severity && stringField(buf, severity[1] + 1, 'actor');
      if (!action || !severity || !actor) return;
      const time = buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH);
      stats.entries += 1;
      stats.lastSeq ??= head.seq;
      stats.to ??= time;
      stats.firstSeq = head.seq;
      stats.from = time;
      bump(stats.byAction, action[0]);
      bump(stats.bySeverity, severity[0]);
      bump(stats.byActor, actor[0]);
      bump(stats.perHour, time.slice(0, 13));
    });
    if (done) break;
  }
  return stats;
}

/** Every entry line of a segment within the time range, newest first. */
async function scanLines(
  ref: SegmentRef,
  filter: CompiledFilter,
  visit: (buf: Buffer, head: { seq: number; timeAt: number }) => void,
): Promise<boolean> {
  if (await skippable(ref, filter)) return false;
  const file = await ref.open();
  if (!file) return false;
  for await (const region of regionsBackward(file.handle, file.size)) {
    for (const [start, end] of linesBackward(region)) {
      const head = parseEntryHead(region.buf, start, end);
      if (!head) continue;
      const time = region.buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH);
      if (filter.since !== undefined && time < filter.since) return true;
      if (filter.until !== undefined && time > filter.until) continue;
      visit(region.buf, head);
    }
  }
  return false;
}

/** The last `count` entries, oldest first. */
export async function tailOfTrail(snapshot: TrailSnapshot, count: number): Promise<AuditEntry[]> {
  const { entries } = await queryTrail(snapshot, {}, count);
  return entries.reverse();
}
