import { join } from 'node:path';
import { HiveError } from '../../protocol/errors.ts';
import { Journal, type JournalEntry, type JournalFs, type ReplayReport } from './journal.ts';
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
    return { ...report, snapshotSeq: seq, snapshotFound: snapshot !== null };
  }

  /** Appends a record; it is applied to `state` once durable, then this resolves with its seq. */
  async commit(record: R): Promise<number> {
    const { seq, durable } = this.#journal.append(record);
    await durable;
    return seq;
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
    // A compaction scheduled by the last commits must not reopen a closed journal.
    if (this.#closed) return Promise.resolve();
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
