import { type FileHandle, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { HiveError } from '../../protocol/errors.ts';
import { fsyncDirectory, isNodeError } from '../core/atomic-file.ts';
import { type AppendFs, appendDurably, GroupCommit, realAppendFs } from '../core/group-commit.ts';

/**
 * An append-only, checksummed record log with group commit.
 *
 * Each line is `<crc32 hex> [seq, record]`. Appends that arrive while a write
 * is in flight are gathered into the next write, so one fdatasync covers many
 * records. A segment is a file `<name>.<segment>.wal`; compaction starts a
 * new segment and lets the owner delete the old ones once a snapshot covers
 * them.
 */
export type JournalFs = AppendFs;

export interface ReplayReport {
  segments: number[];
  records: number;
  /** Bytes of an unfinished last line that were cut off (a crash mid-write). */
  tornTailBytes: number;
  /** Lines in the middle of a segment that failed their checksum or did not parse. */
  corruptLines: { segment: number; line: number }[];
}

export interface JournalEntry<R> {
  seq: number;
  record: R;
}

interface Pending<R> {
  entry: JournalEntry<R>;
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class Journal<R> {
  readonly #dir: string;
  readonly #name: string;
  readonly #fs: JournalFs;
  readonly #onDurable: (entry: JournalEntry<R>) => void;
  #handle: FileHandle | undefined;
  #segment = 0;
  #segmentBytes = 0;
  readonly #commits = new GroupCommit<Pending<R>>((batch) => this.#writeBatch(batch));
  #rotating: Promise<void> | undefined;
  #lastSeq = 0;
  #closed = false;
  /** Set while a restore replaces the files under this journal: appends are refused. */
  #suspended: string | undefined;
  /** Set when the file is in an unknown state; every append is refused. */
  #broken: string | undefined;

  /**
   * @param onDurable called for each record, in sequence order, once it is on
   *   disk and before its `append` promise resolves: the owner applies records
   *   here, so its in-memory state only ever holds durable records.
   */
  constructor(
    dir: string,
    name: string,
    onDurable: (entry: JournalEntry<R>) => void,
    fs: JournalFs = realAppendFs,
  ) {
    this.#dir = dir;
    this.#name = name;
    this.#onDurable = onDurable;
    this.#fs = fs;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get segment(): number {
    return this.#segment;
  }

  get segmentBytes(): number {
    return this.#segmentBytes;
  }

  /** Segment numbers on disk, oldest first. */
  listSegments(): Promise<number[]> {
    return listSegments(this.#dir, this.#name);
  }

  segmentPath(segment: number): string {
    return join(this.#dir, segmentFileName(this.#name, segment));
  }

  /**
   * Reads every record from `fromSegment` on, calls `onEntry` in order, cuts
   * off a torn last line, and opens the newest segment for appends.
   */
  async open(fromSegment: number, afterSeq: number): Promise<ReplayReport> {
    const onEntry = this.#onDurable;
    const report: ReplayReport = { segments: [], records: 0, tornTailBytes: 0, corruptLines: [] };
    this.#lastSeq = afterSeq;
    const segments = (await this.listSegments()).filter((s) => s >= fromSegment);
    for (const [index, segment] of segments.entries()) {
      const isLast = index === segments.length - 1;
      report.segments.push(segment);
      await this.#replaySegment(segment, isLast, afterSeq, report, onEntry);
    }
    this.#segment = segments.at(-1) ?? Math.max(fromSegment, 1);
    await this.#openSegment(this.#segment);
    return report;
  }

  async #replaySegment(
    segment: number,
    isLast: boolean,
    afterSeq: number,
    report: ReplayReport,
    onEntry: (entry: JournalEntry<R>) => void,
  ): Promise<void> {
    const path = this.segmentPath(segment);
    const scan = scanSegment<R>(await readFile(path, 'utf8'), isLast);
    for (const line of scan.corruptLines) report.corruptLines.push({ segment, line });
    for (const entry of scan.entries) {
      if (entry.seq <= afterSeq) continue;
      this.#lastSeq = Math.max(this.#lastSeq, entry.seq);
      report.records += 1;
      onEntry(entry);
    }
    if (scan.tornTail) {
      report.tornTailBytes = scan.tornTail.bytes;
      await this.#truncate(path, scan.tornTail.offset);
    }
  }

  async #truncate(path: string, length: number): Promise<void> {
    const handle = await open(path, 'r+');
    try {
      await handle.truncate(length);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async #openSegment(segment: number): Promise<void> {
    const path = this.segmentPath(segment);
    this.#handle = await open(path, 'a', 0o600);
    this.#segmentBytes = (await this.#handle.stat()).size;
    await fsyncDirectory(this.#dir);
  }

  /**
   * Appends a record; resolves once it is on disk (fdatasync done). The
   * sequence number is assigned at once so callers can use it as a fencing
   * token.
   */
  append(record: R): { seq: number; durable: Promise<void> } {
    if (this.#suspended !== undefined) {
      const error = new HiveError('HIVE_STORE_SUSPENDED', this.#suspended);
      return { seq: 0, durable: Promise.reject(error) };
    }
    if (this.#closed || this.#broken) {
      const message = this.#broken ?? `${this.#name} journal is closed (hived is stopping)`;
      return { seq: 0, durable: Promise.reject(new HiveError('HIVE_STORE_WRITE_FAILED', message)) };
    }
    const seq = ++this.#lastSeq;
    const line = encodeLine(seq, record);
    const entry = { seq, record };
    const durable = new Promise<void>((resolve, reject) => {
      this.#commits.push({ entry, line, resolve, reject });
    });
    return { seq, durable };
  }

  /** Resolves when everything appended so far is durable (or failed). */
  flushed(): Promise<void> {
    return this.#commits.flushed();
  }

  async #writeBatch(batch: Pending<R>[]): Promise<void> {
    if (this.#rotating) await this.#rotating;
    let data = '';
    for (const item of batch) data += item.line;
    const outcome = await appendDurably(this.#fs, this.#handle, data, this.#segmentBytes);
    if (!outcome.ok) {
      const { error } = outcome;
      if (!outcome.repaired) {
        // The file may now end in garbage that a later line would follow: refuse
        // every append until a restart replays (and repairs) the journal.
        this.#broken = `${this.#name} journal could not be repaired after a failed write; restart hived`;
      }
      // Coded, so that a full disk reaches the client as a store failure
      // (ERRORS.md) rather than as an internal error.
      const failure = new HiveError(
        'HIVE_STORE_WRITE_FAILED',
        `${this.#name} journal write failed: ${error instanceof Error ? error.message : String(error)}`,
        { code: isNodeError(error) ? error.code : undefined },
      );
      for (const item of batch) item.reject(failure);
      return;
    }
    this.#segmentBytes += outcome.bytes;
    for (const item of batch) {
      try {
        this.#onDurable(item.entry);
        item.resolve();
      } catch (error) {
        item.reject(error);
      }
    }
  }

  /**
   * Starts a new segment for future appends. Records still waiting for their
   * write go to the new segment. Returns the new segment number.
   */
  async rotate(): Promise<number> {
    await this.flushed();
    // Set synchronously after the drain: a flush started from here on waits.
    const rotation = this.#switchSegment();
    this.#rotating = rotation;
    try {
      await rotation;
    } finally {
      this.#rotating = undefined;
    }
    return this.#segment;
  }

  async #switchSegment(): Promise<void> {
    const old = this.#handle;
    this.#segment += 1;
    await this.#openSegment(this.#segment);
    await old?.close();
  }

  /**
   * Refuses appends (HIVE_STORE_SUSPENDED, with `reason`) until `resume`,
   * and resolves once every append accepted before is durable: from then on
   * the files under this journal can be replaced.
   */
  async suspend(reason: string): Promise<void> {
    this.#suspended = reason;
    await this.flushed();
    if (this.#rotating) await this.#rotating;
  }

  /**
   * Accepts appends again. With `next`, appends go to that segment (already
   * on disk, e.g. installed by a restore) and number on from `next.lastSeq`.
   */
  async resume(next?: { segment: number; lastSeq: number }): Promise<void> {
    if (next) {
      const old = this.#handle;
      this.#segment = next.segment;
      this.#lastSeq = next.lastSeq;
      await this.#openSegment(next.segment);
      await old?.close();
    }
    this.#suspended = undefined;
  }

  /** Deletes segments older than `segment` (already covered by a snapshot). */
  async dropSegmentsBefore(segment: number): Promise<void> {
    for (const s of await this.listSegments()) {
      if (s < segment) await unlink(this.segmentPath(s)).catch(() => {});
    }
    await fsyncDirectory(this.#dir);
  }

  async close(): Promise<void> {
    await this.flushed();
    this.#closed = true;
    await this.#handle?.close();
    this.#handle = undefined;
  }
}

/** One journal line: `<crc32 hex> [seq, record]` and a newline. */
export function encodeLine(seq: number, record: unknown): string {
  const json = JSON.stringify([seq, record]);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

export function segmentFileName(name: string, segment: number): string {
  return `${name}.${String(segment).padStart(6, '0')}.wal`;
}

/** Segment numbers of journal `name` in `dir`, oldest first. */
export async function listSegments(dir: string, name: string): Promise<number[]> {
  const prefix = `${name}.`;
  const names = await readdir(dir);
  return names
    .filter((n) => n.startsWith(prefix) && n.endsWith('.wal'))
    .map((n) => Number(n.slice(prefix.length, -'.wal'.length)))
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => a - b);
}

export interface SegmentScan<R> {
  entries: JournalEntry<R>[];
  /** Line numbers (1-based) that failed their checksum or did not parse. */
  corruptLines: number[];
  /** An unfinished last line of the last segment: where it starts (bytes) and its length. */
  tornTail?: { offset: number; bytes: number };
}

/**
 * Decodes one segment's text without touching the file. A bad line at the
 * very end of the last segment is a torn write (a crash mid-append, never
 * acknowledged); anywhere else it is corruption.
 */
export function scanSegment<R>(text: string, isLast: boolean): SegmentScan<R> {
  const scan: SegmentScan<R> = { entries: [], corruptLines: [] };
  let offset = 0;
  let lineNo = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    const line = end === -1 ? text.slice(offset) : text.slice(offset, end);
    lineNo += 1;
    const entry = end === -1 ? undefined : decodeLine<R>(line);
    if (entry) {
      scan.entries.push(entry);
    } else if (isLast && (end === -1 || end === text.length - 1)) {
      scan.tornTail = {
        offset: Buffer.byteLength(text.slice(0, offset)),
        bytes: Buffer.byteLength(text.slice(offset)),
      };
      return scan;
    } else {
      scan.corruptLines.push(lineNo);
    }
    if (end === -1) break;
    offset = end + 1;
  }
  return scan;
}

export interface JournalScan<R> {
  segments: number[];
  entries: JournalEntry<R>[];
  corruptLines: { segment: number; line: number }[];
  tornTailBytes: number;
}

/** Reads every readable record of a journal, oldest first, changing nothing on disk. */
export async function readJournal<R>(
  dir: string,
  name: string,
  fromSegment = 0,
): Promise<JournalScan<R>> {
  const segments = (await listSegments(dir, name)).filter((s) => s >= fromSegment);
  const out: JournalScan<R> = { segments, entries: [], corruptLines: [], tornTailBytes: 0 };
  for (const [index, segment] of segments.entries()) {
    const text = await readFile(join(dir, segmentFileName(name, segment)), 'utf8');
    const scan = scanSegment<R>(text, index === segments.length - 1);
    for (const entry of scan.entries) out.entries.push(entry);
    for (const line of scan.corruptLines) out.corruptLines.push({ segment, line });
    out.tornTailBytes += scan.tornTail?.bytes ?? 0;
  }
  return out;
}

function decodeLine<R>(line: string): JournalEntry<R> | undefined {
  if (line.length < 10 || line[8] !== ' ') return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    const parsed = JSON.parse(json) as [number, R];
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'number') return undefined;
    return { seq: parsed[0], record: parsed[1] };
  } catch {
    return undefined;
  }
}
