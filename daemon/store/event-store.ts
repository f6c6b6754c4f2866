import { join } from 'node:path';
import { HiveError } from '../../protocol/errors.ts';
import type { FileData } from '../core/atomic-file.ts';
import {
  encodeLine,
  Journal,
  type JournalEntry,
  type JournalFs,
  type ReplayReport,
  segmentFileName,
} from './journal.ts';
import { DurableJsonFile } from './json-document.ts';

/**
 * How a document's state changes: a pure fold over records. `apply` must
 * ignore a record that no longer fits the state (a lease for a cancelled
 * task), because replay after a crash feeds it exactly what happened.
 */
export interface Reducer<S, R> {
  empty(): S;
  apply(state: S, record: R, seq: number): void;
  toSnapshot(state: S): unknown;
  fromSnapshot(data: unknown): S;
}

interface SnapshotFile {
  format: 1;
  name: string;
  /** Last record folded into `state`. */
  seq: number;
  /** First journal segment that may hold records after `seq`. */
  segment: number;
  savedAt: string;
  state: unknown;
}

export interface EventStoreOptions {
  /** Compact once the live journal segment passes this many bytes. */
  compactAfterBytes: number;
  fs?: JournalFs;
}

export interface OpenReport extends ReplayReport {
  snapshotSeq: number;
  snapshotFound: boolean;
  /** The segment the snapshot points at (1 without a snapshot). */
  snapshotSegment: number;
}

/** A file to put in the store's folder, by name. */
export interface StoreFile {
  name: string;
  data: FileData;
}

/** The snapshot's header takes exactly this many bytes (see snapshotHeader). */
export const SNAPSHOT_HEADER_BYTES = 256;

/**
 * The start of a snapshot file up to its state: `{"format":1,...,"state":`,
 * padded with spaces (valid JSON whitespace) to SNAPSHOT_HEADER_BYTES. A
 * fixed width lets a restore write a large snapshot before it knows the seq
 * and segment it will claim, then rewrite this header in place.
 */
export function snapshotHeader(name: string, seq: number, segment: number): string {
  const json = JSON.stringify({
    format: 1,
    name,
    seq,
    segment,
    savedAt: new Date().toISOString(),
  });
  const head = `${json.slice(0, -1)},`;
  const tail = '"state":';
  const pad = SNAPSHOT_HEADER_BYTES - Buffer.byteLength(head) - tail.length;
  if (pad < 0)
    throw new Error(`snapshot header of ${name} is longer than ${SNAPSHOT_HEADER_BYTES} bytes`);
  return `${head}${' '.repeat(pad)}${tail}`;
}

/**
 * A snapshot file holding `base` (a reducer snapshot, as JSON) at `seq`,
 * pointing at journal segment `segment`. Spliced, not re-serialized: the
 * base is already JSON, often tens of MB.
 */
export function snapshotFile(
  name: string,
  base: string | Uint8Array,
  seq: number,
  segment: number,
): StoreFile {
  return { name: `${name}.json`, data: [snapshotHeader(name, seq, segment), base, '}'] };
}

/** A journal segment file holding `entries`. */
export function journalFile(
  name: string,
  segment: number,
  entries: JournalEntry<unknown>[],
): StoreFile {
  let data = '';
  for (const entry of entries) data += encodeLine(entry.seq, entry.record);
  return { name: segmentFileName(name, segment), data };
}

/**
 * Files that make a store hold `base` at `baseSeq` followed by `entries`: a
 * snapshot pointing at a fresh segment `segment`, and that segment holding
 * the entries. Installed in place of the store's files, they are what the
 * next `open` loads.
 */
export function replacementFiles(
  name: string,
  options: {
    base: string | Uint8Array;
    baseSeq: number;
    entries: JournalEntry<unknown>[];
    segment: number;
  },
): StoreFile[] {
  return [
    snapshotFile(name, options.base, options.baseSeq, options.segment),
    journalFile(name, options.segment, options.entries),
  ];
}

export type SnapshotRead =
  | { status: 'ok'; seq: number; segment: number; state: unknown }
  | { status: 'missing' }
  | { status: 'corrupt'; reason: string };

/** Reads a store's snapshot file without opening the store (for inspection and repair). */
export async function readSnapshot(dir: string, name: string): Promise<SnapshotRead> {
  let snapshot: SnapshotFile | null;
  try {
    snapshot = await new DurableJsonFile<SnapshotFile>(join(dir, `${name}.json`)).read();
  } catch (error) {
    return { status: 'corrupt', reason: error instanceof Error ? error.message : String(error) };
  }
  if (snapshot === null) return { status: 'missing' };
  if (!isSnapshot(snapshot)) return { status: 'corrupt', reason: 'not a snapshot (wrong shape)' };
  return { status: 'ok', seq: snapshot.seq, segment: snapshot.segment, state: snapshot.state };
}

/**
 * A document kept as a lowdb snapshot plus a journal of records since then.
 * Writes cost one appended line instead of rewriting the whole document,
 * which keeps submit acknowledgements fast with a large queue; the snapshot
 * is rewritten (atomically, fsynced) only on compaction.
 */
export class EventStore<S, R> {
  readonly name: string;
  readonly #reducer: Reducer<S, R>;
  readonly #snapshotFile: DurableJsonFile<SnapshotFile>;
  readonly #journal: Journal<R>;
  readonly #options: EventStoreOptions;
  #state: S;
  #appliedSeq = 0;
  #compacting: Promise<void> | undefined;
  #closed = false;
  #suspended = false;
  #onApplied: ((record: R, seq: number) => void) | undefined;

  constructor(dir: string, name: string, reducer: Reducer<S, R>, options: EventStoreOptions) {
    this.name = name;
    this.#reducer = reducer;
    this.#options = { ...options };
    this.#state = reducer.empty();
    this.#snapshotFile = new DurableJsonFile<SnapshotFile>(join(dir, `${name}.json`));
    this.#journal = new Journal<R>(dir, name, (entry) => this.#apply(entry), options.fs);
  }

  get state(): S {
    return this.#state;
  }

  get snapshotPath(): string {
    return this.#snapshotFile.path;
  }

  /** Takes effect at the next commit. */
  setCompactAfterBytes(bytes: number): void {
    this.#options.compactAfterBytes = bytes;
  }

  /** Called after each record is applied (live and during replay). */
  onApplied(listener: (record: R, seq: number) => void): void {
    this.#onApplied = listener;
  }

  async open(): Promise<OpenReport> {
    const snapshot = await this.#snapshotFile.read();
    // Valid JSON of the wrong shape would otherwise read as "no snapshot" and
    // silently drop everything the missing segments held.
    if (snapshot && !isSnapshot(snapshot)) {
      throw new HiveError('HIVE_STORE_CORRUPT', `${this.snapshotPath} is not a snapshot`, {
        path: this.snapshotPath,
      });
    }
    if (snapshot) this.#state = this.#reducer.fromSnapshot(snapshot.state);
    const seq = snapshot?.seq ?? 0;
    const segment = snapshot?.segment ?? 1;
    this.#appliedSeq = seq;
    // Segments older than the snapshot's are leftovers of an interrupted compaction.
    await this.#journal.dropSegmentsBefore(segment);
    const report = await this.#journal.open(segment, seq);
    return {
      ...report,
      snapshotSeq: seq,
      snapshotFound: snapshot !== null,
      snapshotSegment: segment,
    };
  }

  /** Appends a record; it is applied to `state` once durable, then this resolves with its seq. */
  async commit(record: R): Promise<number> {
    const { seq, durable } = this.#journal.append(record);
    await durable;
    return seq;
  }

  /**
   * Appends a record without waiting: its seq at once (0 when refused), and
   * a promise of its durability. For records whose effect may run ahead of
   * the disk (a delivery the receiver will ack anyway), where waiting would
   * add an fdatasync to every hop.
   */
  append(record: R): { seq: number; durable: Promise<void> } {
    return this.#journal.append(record);
  }

  #apply(entry: JournalEntry<R>): void {
    this.#reducer.apply(this.#state, entry.record, entry.seq);
    this.#appliedSeq = entry.seq;
    this.#onApplied?.(entry.record, entry.seq);
    if (!this.#compacting && this.#journal.segmentBytes > this.#options.compactAfterBytes) {
      setImmediate(() => void this.compact().catch(() => {}));
    }
  }

  /** Writes a snapshot of the current state and drops the journal it covers. */
  compact(): Promise<void> {
    // A compaction scheduled by the last commits must not reopen a closed journal,
    // nor write over files a restore is replacing.
    if (this.#closed || this.#suspended) return Promise.resolve();
    this.#compacting ??= this.#compactNow().finally(() => {
      this.#compacting = undefined;
    });
    return this.#compacting;
  }

  async #compactNow(): Promise<void> {
    const segment = await this.#journal.rotate();
    // Serialised synchronously: state and appliedSeq describe the same moment.
    const snapshot: SnapshotFile = {
      format: 1,
      name: this.name,
      seq: this.#appliedSeq,
      segment,
      savedAt: new Date().toISOString(),
      state: this.#reducer.toSnapshot(this.#state),
    };
    await this.#snapshotFile.write(snapshot);
    await this.#journal.dropSegmentsBefore(segment);
  }

  async flushed(): Promise<void> {
    await this.#journal.flushed();
  }

  /**
   * Stops appends (they fail with HIVE_STORE_SUSPENDED) and compaction, and
   * resolves once the files are quiet: everything accepted before is durable
   * and applied. Returns what a replacement builds on: the last seq and the
   * next free segment.
   */
  async suspend(reason: string): Promise<{ seq: number; nextSegment: number }> {
    this.#suspended = true;
    await this.#compacting;
    await this.#journal.suspend(reason);
    const segments = await this.#journal.listSegments();
    const newest = Math.max(this.#journal.segment, ...segments);
    return { seq: this.#appliedSeq, nextSegment: newest + 1 };
  }

  /**
   * After `replacementFiles` were installed: takes `state` (the base,
   * already built by the reducer) plus `entries` as the state, appends to `segment` from
   * here on, and drops the segments the replacement superseded.
   */
  async adopt(state: S, entries: JournalEntry<R>[], segment: number): Promise<void> {
    const seqBefore = this.#appliedSeq;
    this.#state = state;
    let lastSeq = seqBefore;
    for (const entry of entries) {
      this.#reducer.apply(state, entry.record, entry.seq);
      lastSeq = Math.max(lastSeq, entry.seq);
    }
    this.#appliedSeq = lastSeq;
    await this.#journal.resume({ segment, lastSeq });
    this.#suspended = false;
    await this.#journal.dropSegmentsBefore(segment);
  }

  /** Ends a suspension without a replacement (a restore that failed before its commit). */
  async resume(): Promise<void> {
    await this.#journal.resume();
    this.#suspended = false;
  }

  get lastSeq(): number {
    return this.#appliedSeq;
  }

  async close({ compact }: { compact: boolean }): Promise<void> {
    await this.#journal.flushed();
    if (compact) await this.compact();
    else await this.#compacting;
    this.#closed = true;
    await this.#journal.close();
  }
}

function isSnapshot(value: unknown): value is SnapshotFile {
  if (typeof value !== 'object' || value === null) return false;
  const { format, seq, segment } = value as Partial<SnapshotFile>;
  return (
    format === 1 &&
    Number.isInteger(seq) &&
    (seq as number) >= 0 &&
    Number.isInteger(segment) &&
    (segment as number) >= 1
  );
}
