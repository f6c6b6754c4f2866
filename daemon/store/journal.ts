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
  async listSegments(): Promise<number[]> {
    const prefix = `${this.#name}.`;
    const names = await readdir(this.#dir);
    return names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.wal'))
      .map((n) => Number(n.slice(prefix.length, -'.wal'.length)))
      .filter((n) => Number.isInteger(n))
      .sort((a, b) => a - b);
  }

  segmentPath(segment: number): string {
    return join(this.#dir, `${this.#name}.${String(segment).padStart(6, '0')}.wal`);
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
    const text = await readFile(path, 'utf8');
    let offset = 0;
    let lineNo = 0;
    while (offset < text.length) {
      const end = text.indexOf('\n', offset);
      const line = end === -1 ? text.slice(offset) : text.slice(offset, end);
      lineNo += 1;
      const entry = end === -1 ? undefined : decodeLine<R>(line);
      if (!entry) {
        const atTail = isLast && (end === -1 || end === text.length - 1);
        if (atTail) {
          report.tornTailBytes = Buffer.byteLength(text.slice(offset));
          await this.#truncate(path, Buffer.byteLength(text.slice(0, offset)));
          return;
        }
        report.corruptLines.push({ segment, line: lineNo });
      } else if (entry.seq > afterSeq) {
        this.#lastSeq = Math.max(this.#lastSeq, entry.seq);
        report.records += 1;
        onEntry(entry);
      }
      if (end === -1) break;
      offset = end + 1;
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
    if (this.#closed || this.#broken) {
      const message = this.#broken ?? `${this.#name} journal is closed (hived is stopping)`;
      return { seq: 0, durable: Promise.reject(new HiveError('HIVE_STORE_WRITE_FAILED', message)) };
    }
    const seq = ++this.#lastSeq;
    const json = JSON.stringify([seq, record]);
    const line = `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
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
