import { chmod, type FileHandle, open } from 'node:fs/promises';
import { AUDIT_FILES, sealedSegmentName } from '../../protocol/audit.ts';
import {
  checkDocument,
  entryBody,
  GENESIS_HASH,
  type MacKey,
  sealDocument,
  sealNode,
} from '../../protocol/audit-chain.ts';
import { HiveError } from '../../protocol/errors.ts';
import { ensureDirectory, isNodeError } from '../core/atomic-file.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import { type AppendFs, appendDurably, GroupCommit, realAppendFs } from '../core/group-commit.ts';
import type { Logger } from '../logs/log-hub.ts';
import { applyRetention } from './retention.ts';
import { cutTo, readHeader, readTail, SegmentFiles } from './segments.ts';

export interface TrailOptions {
  dir: string;
  key: MacKey | undefined;
  rotateBytes: number;
  /** Rotate a segment this old (0: never by age). */
  rotateAfterMs: number;
  /** Rotated segments kept (0: all). */
  keepSegments: number;
  /** Rotated segments older than this are removed (0: never). */
  maxAgeMs: number;
  /** A write (with its fdatasync) that takes longer counts as failed. */
  writeTimeoutMs: number;
  retryIntervalMs: number;
  /** Entries kept in memory while the trail cannot be written. */
  backlogMax: number;
}

/** Points between the steps of rotation and retention (tests crash the process there). */
export type TrailStep =
  | 'rotate:sealed'
  | 'rotate:created'
  | 'retention:anchored'
  | 'retention:removed';

export interface TrailDeps {
  clock: Clock;
  log: Logger;
  fs?: AppendFs;
  onStep?: (step: TrailStep) => void;
}

export interface Written {
  seq: number;
  /** The entry's link: what the next entry's `prev` holds (its hash, or with a key the hash of hash and MAC). */
  hash: string;
}

export type SinkHealth =
  | { state: 'ok' }
  | { state: 'broken'; reason: string; code: string | undefined; since: number };

export interface TrailEvents {
  /** The sink broke or recovered; `waited`/`lost` count what the outage held back or dropped. */
  health: { health: SinkHealth; waited: number; lost: Record<string, number> };
  /** Lines just made durable (only built when someone listens). */
  written: { data: string };
  /** Retention removed segments. */
  retention: { segments: number[]; throughSeq: number };
}

export interface OpenReport {
  segment: number;
  lastSeq: number;
  /** Bytes of an unfinished write cut off the live segment. */
  cutBytes: number;
  /** Entries the head checkpoint says were written but the files no longer hold. */
  gap: { from: number; to: number } | undefined;
}

interface Pending {
  /** The entry's canonical fields after `time` (from `action` on). */
  rest: string;
  action: string;
  recordedAt: number;
  settle: { resolve(written: Written): void; reject(error: unknown): void } | undefined;
  /** Seq and hash from a write that timed out: it may still have landed. */
  tried: Written | undefined;
}

/** One file of the trail as of a snapshot. */
export interface SegmentRef {
  name: string;
  segment: number;
  live: boolean;
  /** Opens it for reading; undefined when retention has removed it since. */
  open(): Promise<{ handle: FileHandle; size: number } | undefined>;
}

export interface TrailSnapshot {
  /** Oldest first; the last is the live segment. */
  segments: SegmentRef[];
  /** The last entry written when the snapshot was taken. */
  head: Written;
  close(): Promise<void>;
}

const LATE_MS = 1000;
/** How long an entry nobody waits for may wait for others to share its write. */
const LINGER_MS = 5;
const HEAD_INTERVAL_MS = 10_000;

/**
 * The audit trail on disk: hash-chained, append-only segments with group
 * commit (an entry counts once fdatasynced), rotation by size or age,
 * retention that leaves an anchor, and a sink that fails fast and visibly
 * when the disk does: entries then wait in a bounded backlog and are
 * written, in order, once a retry succeeds.
 */
export class AuditTrail extends TypedEmitter<TrailEvents> {
  #options: Readonly<TrailOptions>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #fs: AppendFs;
  readonly #onStep: (step: TrailStep) => void;
  readonly #files: SegmentFiles;
  readonly #commits = new GroupCommit<Pending>((batch) => this.#writeBatch(batch), {
    lingerMs: LINGER_MS,
  });
  #handle: FileHandle | undefined;
  #segment = 1;
  #segmentCreated = 0;
  #segmentEntries = 0;
  #liveBytes = 0;
  #lastSeq = 0;
  #lastLink = GENESIS_HASH;
  #lastTime = 0;
  #lastHeadWrite = 0;
  #health: SinkHealth = { state: 'ok' };
  #backlog: Pending[] = [];
  #lost: Record<string, number> = {};
  #waited = 0;
  /** A write that outlived its deadline: nothing else may touch the file until it settles. */
  #straggler: Promise<unknown> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #recovering = false;
  /** Serialises rotation against readers opening files. */
  #lock: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: TrailOptions, deps: TrailDeps) {
    super();
    this.#options = Object.freeze({ ...options });
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#fs = deps.fs ?? realAppendFs;
    this.#onStep = deps.onStep ?? (() => {});
    this.#files = new SegmentFiles(options.dir);
  }

  /** Takes new limits (a config reload); the folder and the key stay as they are. */
  setOptions(next: Partial<Omit<TrailOptions, 'dir' | 'key'>>): void {
    this.#options = Object.freeze({ ...this.#options, ...next });
  }

  get health(): SinkHealth {
    return this.#health;
  }

  get head(): { seq: number; hash: string; segment: number; backlog: number; lost: number } {
    const lost = Object.values(this.#lost).reduce((a, b) => a + b, 0);
    return {
      seq: this.#lastSeq,
      hash: this.#lastLink,
      segment: this.#segment,
      backlog: this.#backlog.length,
      lost,
    };
  }

  get dir(): string {
    return this.#options.dir;
  }

  get key(): MacKey | undefined {
    return this.#options.key;
  }

  /**
   * Finds the end of the chain on disk (repairing an unfinished write) and
   * opens the live segment. A trail that cannot be opened starts broken and
   * is retried like any other outage: hived runs, mutating commands wait.
   */
  async open(): Promise<OpenReport | undefined> {
    let report: OpenReport;
    try {
      report = await this.#openFiles();
    } catch (error) {
      this.#break(`cannot open the trail: ${describe(error)}`, error, []);
      return undefined;
    }
    const head = await this.#files.readDocument(this.#files.head);
    if (head && !checkDocument(head, this.#options.key) && typeof head.seq === 'number') {
      if (head.seq > this.#lastSeq) {
        report.gap = { from: this.#lastSeq + 1, to: head.seq };
        // Continue after the lost entries so the hole stays visible to verify.
        this.#lastSeq = head.seq;
      }
    }
    await this.#applyRetention().catch((error: unknown) => {
      this.#log.warn(`audit retention failed: ${describe(error)}`);
    });
    return report;
  }

  async #openFiles(): Promise<OpenReport> {
    ensureDirectory(this.#options.dir);
    const files = this.#files;
    const { sealed, live } = await files.list();
    const current = live ? await readHeader(files.live) : undefined;
    let cutBytes = 0;
    if (current) {
      const tail = await readTail(files.live, current);
      if (tail.tornBytes > 0) {
        await cutTo(files.live, tail.size);
        cutBytes = tail.tornBytes;
      }
      this.#segment = current.header.segment;
      this.#segmentCreated = Date.parse(current.header.created);
      this.#segmentEntries = tail.entries ? 1 : 0;
      this.#lastSeq = tail.seq;
      this.#lastLink = tail.link;
      this.#lastTime = Math.max(this.#lastTime, tail.timeMs, this.#segmentCreated);
      this.#liveBytes = tail.size;
    } else {
      // No live segment, or one whose header a crash left unfinished: start it again.
      const end = await files.chainEnd(sealed);
      this.#lastSeq = end.seq;
      this.#lastLink = end.link;
      this.#lastTime = Math.max(this.#lastTime, end.timeMs);
      await this.#createLive(end.segment);
    }
    this.#handle = await open(files.live, 'a', 0o600);
    return { segment: this.#segment, lastSeq: this.#lastSeq, cutBytes, gap: undefined };
  }

  async #createLive(segment: number): Promise<void> {
    const now = this.#now();
    const key = this.#options.key;
    const created = await this.#files.create(
      {
        segment,
        firstSeq: this.#lastSeq + 1,
        prev: this.#lastLink,
        created: new Date(now).toISOString(),
        format: 1,
        keyed: key !== undefined,
        ...(key ? { keyId: key.id } : {}),
      },
      key,
    );
    this.#lastLink = created.link;
    this.#segment = segment;
    this.#segmentCreated = now;
    this.#segmentEntries = 0;
    this.#liveBytes = created.bytes;
  }

  /** Trail time never goes back, so a time range is one contiguous stretch of the chain. */
  #now(): number {
    this.#lastTime = Math.max(this.#clock.now(), this.#lastTime);
    return this.#lastTime;
  }

  /**
   * Appends one entry (its fields from `action` on, canonically encoded).
   * Resolves once it is durable; rejects with HIVE_AUDIT_UNAVAILABLE if the
   * trail cannot be written within the deadline, in which case the entry
   * waits in the backlog and is written when the sink recovers. `urgent:
   * false` (nobody awaits it) lets it share a write a few ms later.
   */
  append(
    rest: string,
    action: string,
    recordedAt = this.#clock.now(),
    urgent = true,
  ): Promise<Written> {
    return new Promise<Written>((resolve, reject) => {
      const item: Pending = {
        rest,
        action,
        recordedAt,
        settle: { resolve, reject },
        tried: undefined,
      };
      if (this.#closed) this.#reject([item], 'the audit trail is closed (hived is stopping)');
      else if (this.#health.state === 'broken') this.#hold([item]);
      else this.#commits.push(item, urgent);
    });
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    let at = 0;
    while (at < batch.length) {
      if (this.#health.state === 'broken') {
        this.#hold(batch.slice(at));
        return;
      }
      const result = await this.#writeSome(batch, at);
      if ('failed' in result) {
        this.#break(result.failed, result.error, batch.slice(at), result.unknownState);
        return;
      }
      for (let i = at; i < at + result.written; i++) {
        const item = batch[i] as Pending;
        const settle = item.settle;
        item.settle = undefined;
        settle?.resolve(item.tried as Written);
      }
      at += result.written;
    }
    if (this.#clock.now() - this.#lastHeadWrite > HEAD_INTERVAL_MS) await this.#writeHead();
  }

  /**
   * Writes as many of `items` (from `from`) as fit the live segment,
   * rotating first when it is full or old. Returns how many, or why none.
   */
  async #writeSome(
    items: Pending[],
    from: number,
  ): Promise<{ written: number } | { failed: string; error: unknown; unknownState: boolean }> {
    try {
      await this.#maybeRotate();
    } catch (error) {
      return { failed: `rotation failed: ${describe(error)}`, error, unknownState: false };
    }
    const room = this.#options.rotateBytes - this.#liveBytes;
    const { data, last, count } = this.#encode(items, from, room);
    const outcome = await this.#withDeadline(
      appendDurably(this.#fs, this.#handle, data, this.#liveBytes),
    );
    if (outcome === 'timeout') {
      const failed = `a write did not complete within ${this.#options.writeTimeoutMs} ms`;
      return { failed, error: undefined, unknownState: false };
    }
    if (!outcome.ok) {
      const failed = `write failed: ${describe(outcome.error)}`;
      return { failed, error: outcome.error, unknownState: !outcome.repaired };
    }
    this.#liveBytes += outcome.bytes;
    this.#lastSeq = last.seq;
    this.#lastLink = last.hash;
    this.#segmentEntries += count;
    if (this.hasListeners('written')) this.emit('written', { data });
    return { written: count };
  }

  /** Seals items into lines from the chain head, as many as fit `room` bytes (at least one). */
  #encode(
    items: Pending[],
    from: number,
    room: number,
  ): { data: string; last: Written; count: number } {
    const now = this.#now();
    const time = new Date(now).toISOString();
    const key = this.#options.key;
    let seq = this.#lastSeq;
    let prev = this.#lastLink;
    let data = '';
    let count = 0;
    for (let i = from; i < items.length; i++) {
      const item = items[i] as Pending;
      const late =
        now - item.recordedAt > LATE_MS ? `"at":"${new Date(item.recordedAt).toISOString()}",` : '';
      const { line, link } = sealNode(entryBody(seq + 1, prev, time, late + item.rest), key);
      if (count > 0 && data.length + line.length > room) break;
      seq += 1;
      item.tried = { seq, hash: link };
      prev = link;
      data += line;
      count += 1;
    }
    return { data, last: { seq, hash: prev }, count };
  }

  async #withDeadline<T>(operation: Promise<T>): Promise<T | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#options.writeTimeoutMs);
    });
    const result = await Promise.race([operation, deadline]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.#straggler = operation.finally(() => {
        this.#straggler = undefined;
      });
    }
    return result;
  }

  async #maybeRotate(): Promise<void> {
    const { rotateBytes, rotateAfterMs } = this.#options;
    const bySize = this.#liveBytes >= rotateBytes;
    const byAge =
      rotateAfterMs > 0 &&
      this.#segmentEntries > 0 &&
      this.#clock.now() - this.#segmentCreated >= rotateAfterMs;
    if (!bySize && !byAge) return;
    await this.#exclusive(() => this.#rotate());
    await this.#applyRetention();
  }

  async #rotate(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    const sealed = this.#segment;
    await this.#files.seal(sealed);
    await chmod(this.#files.sealed(sealed), 0o400).catch(() => {});
    this.#onStep('rotate:sealed');
    await this.#createLive(sealed + 1);
    this.#onStep('rotate:created');
    this.#handle = await open(this.#files.live, 'a', 0o600);
    await this.#writeHead();
  }

  /** Serialises `fn` with rotation, so files are never opened halfway through a rename. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async #writeHead(): Promise<void> {
    this.#lastHeadWrite = this.#clock.now();
    const doc = sealDocument(
      {
        seq: this.#lastSeq,
        hash: this.#lastLink,
        segment: this.#segment,
        at: new Date(this.#lastTime).toISOString(),
      },
      this.#options.key,
    );
    await this.#files.writeDocument(this.#files.head, doc).catch((error: unknown) => {
      this.#log.warn(`audit head checkpoint not written: ${describe(error)}`);
    });
  }

  async #applyRetention(): Promise<void> {
    const removed = await applyRetention(this.#files, this.#options, {
      live: this.#segment,
      now: this.#now(),
      key: this.#options.key,
      onStep: this.#onStep,
    });
    if (removed) this.emit('retention', removed);
  }

  // -------------------------------------------------------------------------
  // Failure and recovery

  #break(reason: string, error: unknown, failed: Pending[], fileUnknown = false): void {
    const code = isNodeError(error) ? error.code : undefined;
    this.#log.error(
      `audit trail cannot be written: ${reason}${fileUnknown ? ' (and could not be cut back)' : ''}`,
    );
    this.#health = { state: 'broken', reason, code, since: this.#clock.now() };
    this.#waited = 0;
    this.#lost = {};
    this.#hold([...failed, ...this.#commits.drain()]);
    this.emit('health', { health: this.#health, waited: 0, lost: {} });
    this.#retryTimer ??= setInterval(() => void this.#recover(), this.#options.retryIntervalMs);
    this.#retryTimer.unref();
  }

  /** Keeps entries for the retry (bounded) and fails their writers now. */
  #hold(items: Pending[]): void {
    const room = this.#options.backlogMax - this.#backlog.length;
    const kept = items.slice(0, Math.max(0, room));
    for (const item of items.slice(kept.length))
      this.#lost[item.action] = (this.#lost[item.action] ?? 0) + 1;
    this.#backlog.push(...kept);
    this.#waited += kept.length;
    const reason = this.#health.state === 'broken' ? this.#health.reason : 'unknown';
    this.#reject(items, `the audit trail cannot be written: ${reason}`);
  }

  #reject(items: Pending[], message: string): void {
    const error = new HiveError('HIVE_AUDIT_UNAVAILABLE', message);
    for (const item of items) {
      const settle = item.settle;
      item.settle = undefined;
      settle?.reject(error);
    }
  }

  /** Reopens the trail from what is on disk and writes what waited; ok again only if all of it lands. */
  async #recover(): Promise<void> {
    if (this.#recovering || this.#straggler || this.#closed) return;
    this.#recovering = true;
    try {
      await this.#handle?.close().catch(() => {});
      this.#handle = undefined;
      await this.#openFiles();
      this.#dropLanded();
      while (this.#backlog.length > 0) {
        const result = await this.#writeSome(this.#backlog, 0);
        if ('failed' in result) return;
        this.#backlog.splice(0, result.written);
      }
      clearInterval(this.#retryTimer);
      this.#retryTimer = undefined;
      const broken = this.#health;
      this.#health = { state: 'ok' };
      this.#log.warn(
        `audit trail writable again after ${broken.state === 'broken' ? broken.reason : '?'}; ${this.#waited} waiting entries written`,
      );
      this.emit('health', { health: this.#health, waited: this.#waited, lost: this.#lost });
    } catch (error) {
      this.#log.debug(`audit trail still broken: ${describe(error)}`);
    } finally {
      this.#recovering = false;
    }
  }

  /** A write that timed out may have landed after all: those entries are not written twice. */
  #dropLanded(): void {
    const index = this.#backlog.findIndex(
      (item) => item.tried?.seq === this.#lastSeq && item.tried.hash === this.#lastLink,
    );
    if (index !== -1) this.#backlog.splice(0, index + 1);
  }

  // -------------------------------------------------------------------------
  // Reading

  /**
   * The trail's files as of now, oldest first, for reading: the live one is
   * opened at once (rotation may rename it any moment), rotated ones on
   * demand. Sizes are fixed now, so a reader never sees a half-written line.
   */
  snapshot(): Promise<TrailSnapshot> {
    return this.#exclusive(async () => {
      const { sealed } = await this.#files.list();
      const handles: FileHandle[] = [];
      const opened = async (path: string, size?: number) => {
        try {
          const handle = await open(path, 'r');
          handles.push(handle);
          return { handle, size: size ?? (await handle.stat()).size };
        } catch (error) {
          if (isNodeError(error) && error.code === 'ENOENT') return undefined;
          throw error;
        }
      };
      const segments: SegmentRef[] = sealed.map((segment) => ({
        name: sealedSegmentName(segment),
        segment,
        live: false,
        open: () => opened(this.#files.sealed(segment)),
      }));
      const live = await opened(this.#files.live, this.#liveBytes);
      if (live) {
        segments.push({
          name: AUDIT_FILES.live,
          segment: this.#segment,
          live: true,
          open: async () => live,
        });
      }
      return {
        segments,
        head: { seq: this.#lastSeq, hash: this.#lastLink },
        close: async () => {
          await Promise.all(handles.map((h) => h.close().catch(() => {})));
        },
      };
    });
  }

  /** The retention anchor, if retention has removed segments. */
  anchor(): Promise<Record<string, unknown> | undefined> {
    return this.#files.readDocument(this.#files.anchor);
  }

  flushed(): Promise<void> {
    return this.#commits.flushed();
  }

  /** Writes what is pending, records the head for the next start, closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#commits.flushed();
    if (this.#health.state === 'broken') await this.#recover();
    this.#closed = true;
    clearInterval(this.#retryTimer);
    if (this.#backlog.length > 0)
      this.#log.error(`${this.#backlog.length} audit entries could not be written before the stop`);
    if (this.#health.state === 'ok') await this.#writeHead();
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
