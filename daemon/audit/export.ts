import {
  isHeaderLine,
  linkOf,
  type MacKey,
  parseEntryHead,
  parseSeal,
  sealDocument,
  TIME_LENGTH,
} from '../../protocol/audit-chain.ts';
import type { ExportHeader, ExportTrailer } from '../../protocol/audit-export.ts';
import { HiveError } from '../../protocol/errors.ts';
import { readSegmentHeader, regionsForward } from './reader.ts';
import type { SegmentRef, TrailSnapshot } from './trail.ts';

/** Where the next page starts, and what the pages so far established. */
interface Cursor {
  segment: number;
  offset: number;
  anchorSeq: number;
  lastSeq: number;
  lastHash: string;
}

export interface ExportPage {
  /** Lines to write as they are (newline excluded): header, trail lines, trailer. */
  lines: string[];
  /** Pass back for the next page; null once the trailer was sent. */
  next: string | null;
}

export interface ExportRange {
  since?: number;
  until?: number;
}

function encodeCursor(c: Cursor): string {
  return `${c.segment}:${c.offset}:${c.anchorSeq}:${c.lastSeq}:${c.lastHash}`;
}

function decodeCursor(text: string): Cursor {
  const [segment, offset, anchorSeq, lastSeq, lastHash] = text.split(':');
  const numbers = [segment, offset, anchorSeq, lastSeq].map(Number);
  if (numbers.some((n) => !Number.isInteger(n) || n < 0) || !/^[0-9a-f]{64}$/.test(lastHash ?? ''))
    throw new HiveError('HIVE_IPC_BAD_ARGS', `not an export cursor: ${JSON.stringify(text)}`);
  const [s, o, a, l] = numbers as [number, number, number, number];
  return { segment: s, offset: o, anchorSeq: a, lastSeq: l, lastHash: lastHash as string };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One page of an export: a stretch of the chain whose trail time lies in
 * the range. Trail time never decreases, so the range is one contiguous
 * stretch, and the lines are copied byte for byte, so their hashes still
 * verify. The first page starts with a sealed header naming the hash the
 * first entry links to; the last ends with a sealed trailer naming the last
 * entry, so `hive audit verify --file` can check an export on its own.
 */
export async function exportPage(
  snapshot: TrailSnapshot,
  range: ExportRange,
  cursorText: string | undefined,
  options: { key: MacKey | undefined; maxBytes: number; now: number },
): Promise<ExportPage> {
  const lines: string[] = [];
  let cursor: Cursor | undefined = cursorText ? decodeCursor(cursorText) : undefined;
  if (!cursor) {
    const start = await findStart(snapshot, range);
    // Nothing in range: an empty export anchored at the head.
    const header: ExportHeader = {
      export: 1,
      anchorSeq: start ? start.seq - 1 : snapshot.head.seq,
      anchorHash: start ? start.prev : snapshot.head.hash,
      since: range.since === undefined ? null : iso(range.since),
      until: range.until === undefined ? null : iso(range.until),
      exportedAt: iso(options.now),
      keyed: options.key !== undefined,
      ...(options.key ? { keyId: options.key.id } : {}),
    };
    lines.push(JSON.stringify(sealDocument(header, options.key)));
    if (!start) {
      lines.push(trailer(header.anchorSeq, header.anchorHash, header.anchorSeq, options.key));
      return { lines, next: null };
    }
    cursor = {
      segment: start.segment,
      offset: start.offset,
      anchorSeq: header.anchorSeq,
      lastSeq: header.anchorSeq,
      lastHash: header.anchorHash,
    };
  }
  return fillPage(snapshot, range, cursor, lines, options);
}

function trailer(anchorSeq: number, lastHash: string, lastSeq: number, key: MacKey | undefined) {
  const doc: ExportTrailer = { exportEnd: 1, lastSeq, lastHash, entries: lastSeq - anchorSeq };
  return JSON.stringify(sealDocument(doc, key));
}

/** The first entry at or after `since` (and not after `until`): its segment, offset, seq and prev. */
async function findStart(
  snapshot: TrailSnapshot,
  range: ExportRange,
): Promise<{ segment: number; offset: number; seq: number; prev: string } | undefined> {
  const since = range.since === undefined ? undefined : iso(range.since);
  const until = range.until === undefined ? undefined : iso(range.until);
  let first = 0;
  if (since !== undefined) {
    // Entries of a segment are no older than its header: start at the last header before `since`.
    for (const [i, ref] of snapshot.segments.entries()) {
      const header = await readSegmentHeader(ref);
      if (header && header.created <= since) first = i;
    }
  }
  for (const ref of snapshot.segments.slice(first)) {
    const file = await ref.open();
    if (!file) continue;
    for await (const region of regionsForward(file.handle, 0, file.size)) {
      for (let start = region.start; start < region.end; ) {
        const end = region.buf.indexOf(10, start);
        const head = parseEntryHead(region.buf, start, end);
        if (head) {
          const time = region.buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH);
          if (until !== undefined && time > until) return undefined;
          if (since === undefined || time >= since)
            return {
              segment: ref.segment,
              offset: region.offset + start,
              seq: head.seq,
              prev: head.prev,
            };
        }
        start = end + 1;
      }
    }
  }
  return undefined;
}

async function fillPage(
  snapshot: TrailSnapshot,
  range: ExportRange,
  cursor: Cursor,
  lines: string[],
  options: { key: MacKey | undefined; maxBytes: number },
): Promise<ExportPage> {
  const until = range.until === undefined ? undefined : iso(range.until);
  let bytes = 0;
  let { segment, offset, lastSeq, lastHash } = cursor;
  const finish = () => {
    lines.push(trailer(cursor.anchorSeq, lastHash, lastSeq, options.key));
    return { lines, next: null };
  };
  for (;;) {
    const ref = segmentRef(snapshot, segment);
    const file = await ref?.open();
    if (!ref || !file) {
      if (segment > (snapshot.segments.at(-1)?.segment ?? 0)) return finish();
      throw new HiveError(
        'HIVE_IPC_BAD_ARGS',
        `segment ${segment} was removed by retention during the export; start it again`,
      );
    }
    for await (const region of regionsForward(file.handle, offset, file.size)) {
      for (let start = region.start; start < region.end; ) {
        const end = region.buf.indexOf(10, start);
        const head = isHeaderLine(region.buf, start)
          ? undefined
          : parseEntryHead(region.buf, start, end);
        if (head) {
          const time = region.buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH);
          if (until !== undefined && time > until) return finish();
          lastSeq = head.seq;
          const seal = parseSeal(region.buf, start, end);
          if (seal) lastHash = linkOf(seal.hash, seal.mac);
        }
        lines.push(region.buf.toString('utf8', start, end));
        bytes += end - start + 1;
        start = end + 1;
        if (bytes >= options.maxBytes) {
          const next = { ...cursor, segment, offset: region.offset + start, lastSeq, lastHash };
          return { lines, next: encodeCursor(next) };
        }
      }
    }
    segment += 1;
    offset = 0;
  }
}

function segmentRef(snapshot: TrailSnapshot, segment: number): SegmentRef | undefined {
  return snapshot.segments.find((s) => s.segment === segment);
}
