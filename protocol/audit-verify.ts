/**
 * Walks the audit trail's hash chain and names the first thing wrong with
 * it: an entry changed, entries missing, reordered or duplicated, the end
 * cut off, a whole segment deleted. Used by hived (`hive audit verify`) and
 * by the client on its own (`hive audit verify --file EXPORT`).
 *
 * Lines are taken apart by position (audit-chain.ts), never JSON-parsed:
 * verify reads a million entries in a few seconds.
 */

import { AUDIT_FILES } from './audit.ts';
import {
  checkDocument,
  GENESIS_HASH,
  isHeaderLine,
  linkOf,
  type MacKey,
  parseEntryHead,
  parseHeader,
  parseSeal,
  type Seal,
  sha256Hex,
} from './audit-chain.ts';

export type ProblemKind =
  | 'changed'
  | 'missing'
  | 'reordered'
  | 'duplicated'
  | 'truncated'
  | 'segment_missing'
  | 'wrong_key';

export interface ChainProblem {
  kind: ProblemKind;
  /** The sequence number of the first entry affected (null when it cannot be known). */
  seq: number | null;
  /** The segment it was found in (null when unknown). */
  segment: number | null;
  file: string;
  /** 1-based line of `file` (0: the file as a whole). */
  line: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  segments: number;
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
  /** Where the trail starts: 1, or the first entry retention kept. */
  startsAt: number | null;
  /** Present when older segments were removed by retention (an anchor says so). */
  retention?: { removedThrough: number; at: string };
  /** checked: every keyed node's MAC matched; none: no MACs; unchecked: MACs but no key given. */
  macs: 'checked' | 'none' | 'unchecked';
  problem?: ChainProblem;
}

/** The last entry hived knows it wrote: the trail must reach it, unchanged. */
export interface Checkpoint {
  seq: number;
  /** Its link (what the next entry's `prev` holds). */
  hash: string;
}

interface Position {
  file: string;
  line: number;
}

const RECENT = 256;
const YIELD_EVERY = 4096;
/** A MAC is computed for one keyed node in this many (and the last of each file). */
const MAC_EVERY = 1024;

interface Sealed {
  seq: number | null;
  seal: Seal;
  what: string;
  pos: Position;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ChainVerifier {
  readonly #key: MacKey | undefined;
  #expectSeq: number | undefined;
  #prev: string | undefined;
  #expectSegment: number | undefined;
  #segment: number | null = null;
  #afterHeader = false;
  #keyedSeen = false;
  /** Keyed nodes since the last MAC that matched. */
  #unchecked: Sealed[] = [];
  #checkingMacs = false;
  /** Hashes of the last entries by seq, to tell a duplicate from a stray. */
  readonly #recent = new Map<number, string>();
  readonly #checkpoint: Checkpoint | undefined;
  #checkpointSeen = false;
  #pos: Position = { file: '', line: 0 };
  entries = 0;
  segments = 0;
  firstSeq: number | null = null;
  lastSeq: number | null = null;
  lastHash: string | null = null;
  startsAt: number | null = null;
  macs: VerifyReport['macs'] = 'none';
  problem: ChainProblem | undefined;

  constructor(options: {
    key?: MacKey | undefined;
    /** The next seq and the hash it must link to; unknown: taken from the first node. */
    start?: Checkpoint | undefined;
    expectSegment?: number | undefined;
    checkpoint?: Checkpoint | undefined;
  }) {
    this.#key = options.key;
    this.#expectSeq = options.start?.seq;
    this.#prev = options.start?.hash;
    this.#expectSegment = options.expectSegment;
    this.#checkpoint = options.checkpoint;
    this.startsAt = options.start?.seq ?? null;
  }

  get expectSegment(): number | undefined {
    return this.#expectSegment;
  }

  get expectSeq(): number | undefined {
    return this.#expectSeq;
  }

  /**
   * Checks the lines of `buf[from, to)`. A segment file starts with its
   * header (`segmentFile`); an export may hold headers anywhere. Returns
   * false once a problem is found.
   */
  async lines(
    buf: Buffer,
    from: number,
    to: number,
    where: {
      file: string;
      segmentFile: boolean;
      segmentFromName?: number | undefined;
      /** Lines of the file before `from` (for messages). */
      linesBefore?: number;
    },
  ): Promise<boolean> {
    let pos = from;
    let line = 0;
    const before = where.linesBefore ?? 0;
    while (pos < to) {
      line += 1;
      this.#pos = { file: where.file, line: line + before };
      const nl = buf.indexOf(10, pos);
      if (nl === -1 || nl >= to) {
        return this.#fail(
          'truncated',
          this.#expectSeq ?? null,
          `the last line is incomplete (${to - pos} bytes): the end was cut off, or a crash interrupted the write (hived cuts it off at its next start)`,
        );
      }
      const header = isHeaderLine(buf, pos);
      if (where.segmentFile && (line === 1) !== header) {
        const what =
          line === 1 ? 'does not start with a segment header' : 'holds a second segment header';
        return this.#fail('changed', this.#expectSeq ?? null, `${where.file} ${what}`);
      }
      const ok = header
        ? this.#header(buf, pos, nl, where.segmentFromName)
        : this.#entry(buf, pos, nl, to);
      if (!ok) return false;
      pos = nl + 1;
      if (line % YIELD_EVERY === 0) await yieldToLoop();
    }
    return this.#checkMacs();
  }

  #fail(kind: ProblemKind, seq: number | null, message: string): false {
    // A forged node further back comes first: its MAC fails before this shows.
    if (!this.#checkingMacs && !this.#checkMacs()) return false;
    this.problem = { kind, seq, segment: this.#segment, ...this.#pos, message };
    return false;
  }

  /** Notes a node's MAC for the next check (MACs are checked in bulk; see #checkMacs). */
  #noteMac(seal: Seal, seq: number | null, what: string): boolean {
    if (!this.#key) {
      if (seal.mac !== undefined) this.macs = 'unchecked';
      return true;
    }
    if (seal.mac === undefined) {
      // Nodes written before a key was configured carry none; after the first keyed one, all must.
      if (!this.#keyedSeen) return true;
      return this.#fail('changed', seq, `${what} has no MAC although the trail is keyed`);
    }
    this.#keyedSeen = true;
    this.#unchecked.push({ seq, seal, what, pos: this.#pos });
    return this.#unchecked.length < MAC_EVERY || this.#checkMacs();
  }

  /**
   * Each link covers the MAC before it, so a node's MAC can only match if
   * every node before it is as the key holder wrote it: one good MAC
   * vouches for the whole stretch. When it fails, the first node of the
   * stretch whose own MAC fails is the first one forged.
   */
  #checkMacs(): boolean {
    const last = this.#unchecked.at(-1);
    const key = this.#key;
    if (!last || !key) return true;
    const good = (n: Sealed) => key.mac(n.seal.hash) === n.seal.mac;
    if (good(last)) {
      this.#unchecked = [];
      this.macs = 'checked';
      return true;
    }
    const forged = this.#unchecked.find((n) => !good(n)) ?? last;
    this.#unchecked = [];
    this.#pos = forged.pos;
    this.#checkingMacs = true;
    this.#fail(
      'changed',
      forged.seq,
      `${forged.what}: MAC does not match (changed by someone without the key)`,
    );
    this.#checkingMacs = false;
    return false;
  }

  #header(buf: Buffer, start: number, end: number, fromName: number | undefined): boolean {
    const seal = parseSeal(buf, start, end);
    const header = seal && parseHeader(buf, start, seal);
    const seq = this.#expectSeq ?? null;
    if (!seal || !header) return this.#fail('changed', seq, 'segment header is malformed');
    const at = seq ?? header.firstSeq;
    const what = `segment ${header.segment} header`;
    if (sha256Hex(buf.subarray(start, seal.bodyEnd)) !== seal.hash)
      return this.#fail('changed', at, `${what} does not match its hash`);
    if (this.#key && header.keyed && header.keyId !== this.#key.id) {
      return this.#fail(
        'wrong_key',
        at,
        `segment ${header.segment} was sealed with key ${header.keyId}; the key given is ${this.#key.id}`,
      );
    }
    if (!this.#noteMac(seal, at, what)) return false;
    if (fromName !== undefined && header.segment !== fromName)
      return this.#fail('changed', at, `${this.#pos.file} holds segment ${header.segment}`);
    if (!this.#segmentFollows(header.segment, header.firstSeq)) return false;
    if (!this.#firstSeqFollows(header.segment, header.firstSeq)) return false;
    if (this.#prev !== undefined && header.prev !== this.#prev) {
      return seq !== null && seq > 1
        ? this.#fail(
            'changed',
            seq - 1,
            `entry ${seq - 1} was replaced: ${what} does not link to it`,
          )
        : this.#fail('changed', at, `${what} does not link to the start of the trail`);
    }
    this.#segment = header.segment;
    this.#expectSegment = header.segment + 1;
    this.#expectSeq = header.firstSeq;
    this.startsAt ??= header.firstSeq;
    this.#prev = linkOf(seal.hash, seal.mac);
    this.#afterHeader = true;
    this.segments += 1;
    return true;
  }

  #segmentFollows(segment: number, firstSeq: number): boolean {
    const expected = this.#expectSegment;
    if (expected === undefined || segment === expected) return true;
    const seq = this.#expectSeq ?? null;
    if (segment < expected)
      return this.#fail(
        'reordered',
        seq,
        `segment ${segment} appears after segment ${expected - 1}`,
      );
    const gone =
      segment - expected === 1
        ? `segment ${expected} is`
        : `segments ${expected}..${segment - 1} are`;
    const entries = seq === null ? '' : `: entries ${seq}..${firstSeq - 1} are gone with it`;
    return this.#fail('segment_missing', seq, `${gone} missing (deleted)${entries}`);
  }

  #firstSeqFollows(segment: number, firstSeq: number): boolean {
    const seq = this.#expectSeq;
    if (seq === undefined || firstSeq === seq) return true;
    if (firstSeq < seq) {
      return this.#fail(
        'duplicated',
        firstSeq,
        `segment ${segment} starts at ${firstSeq}, which came before`,
      );
    }
    return this.#fail(
      'truncated',
      seq,
      `entries ${seq}..${firstSeq - 1} are missing before segment ${segment}: the end of segment ${segment - 1} was cut off`,
    );
  }

  #entry(buf: Buffer, start: number, end: number, to: number): boolean {
    const expected = this.#expectSeq;
    const seal = parseSeal(buf, start, end);
    const head = seal && parseEntryHead(buf, start, seal.bodyEnd);
    if (!seal || !head) return this.#fail('changed', expected ?? null, 'not a well-formed entry');
    const at = expected ?? head.seq;
    if (sha256Hex(buf.subarray(start, seal.bodyEnd)) !== seal.hash)
      return this.#fail('changed', at, `entry ${at} does not match its hash`);
    if (!this.#noteMac(seal, at, `entry ${at}`)) return false;
    const link = linkOf(seal.hash, seal.mac);
    if (!this.#follows(buf, head.seq, head.prev, link, end, to)) return false;
    return this.#accept(head.seq, link);
  }

  #follows(buf: Buffer, seq: number, prev: string, hash: string, end: number, to: number): boolean {
    const expected = this.#expectSeq ?? seq;
    if (seq === expected) {
      if (this.#prev === undefined || prev === this.#prev) return true;
      return this.#afterHeader || seq === 1
        ? this.#fail('changed', seq, `entry ${seq} does not link to the node before it`)
        : this.#fail(
            'changed',
            seq - 1,
            `entry ${seq - 1} was replaced: entry ${seq} does not link to it`,
          );
    }
    if (seq > expected) {
      const later = buf.indexOf(`\n{"seq":${expected},"prev":"`, end);
      if (later !== -1 && later < to)
        return this.#fail('reordered', expected, `entry ${expected} appears after entry ${seq}`);
      const range =
        seq - 1 === expected ? `entry ${expected} is` : `entries ${expected}..${seq - 1} are`;
      return this.#fail('missing', expected, `${range} missing (deleted)`);
    }
    return this.#recent.get(seq) === hash
      ? this.#fail('duplicated', seq, `entry ${seq} appears again after entry ${expected - 1}`)
      : this.#fail('reordered', seq, `entry ${seq} appears after entry ${expected - 1}`);
  }

  #accept(seq: number, hash: string): boolean {
    if (this.#checkpoint?.seq === seq) {
      this.#checkpointSeen = true;
      if (this.#checkpoint.hash !== hash) {
        return this.#fail(
          'changed',
          seq,
          `entry ${seq} differs from the one hived wrote (the chain was rewritten)`,
        );
      }
    }
    this.#recent.set(seq, hash);
    this.#recent.delete(seq - RECENT);
    this.#expectSeq = seq + 1;
    this.#prev = hash;
    this.#afterHeader = false;
    this.firstSeq ??= seq;
    this.startsAt ??= seq;
    this.lastSeq = seq;
    this.lastHash = hash;
    this.entries += 1;
    return true;
  }

  /** Ends the walk: the checkpoint, if any, must have been reached. */
  finish(): VerifyReport {
    const checkpoint = this.#checkpoint;
    if (!this.problem && checkpoint && checkpoint.seq > 0 && !this.#checkpointSeen) {
      const last = this.lastSeq ?? (this.#expectSeq ?? 1) - 1;
      this.#fail(
        'truncated',
        last + 1,
        `the trail ends at entry ${last} but hived wrote up to ${checkpoint.seq}: entries ${last + 1}..${checkpoint.seq} were cut off`,
      );
    }
    return {
      ok: this.problem === undefined,
      entries: this.entries,
      segments: this.segments,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      lastHash: this.lastHash,
      startsAt: this.startsAt,
      macs: this.macs,
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }
}

/** One file of the trail: a rotated segment (its number from the name) or the live one. */
export interface TrailFile {
  name: string;
  /** From the file name; undefined for the live segment. */
  segment: number | undefined;
  read(): Promise<Buffer>;
}

export interface TrailAnchor {
  segment: number;
  seq: number;
  hash: string;
  at: string;
}

/**
 * Verifies a whole trail: rotated segments oldest first, then the live one.
 * `anchor` is what retention left (the parsed, sealed anchor file);
 * `checkpoint` the last entry hived knows it wrote.
 */
export async function verifyTrail(
  files: TrailFile[],
  options: {
    key?: MacKey | undefined;
    anchor?: Record<string, unknown> | undefined;
    checkpoint?: Checkpoint | undefined;
  },
): Promise<VerifyReport> {
  const { key } = options;
  let anchor: TrailAnchor | undefined;
  if (options.anchor) {
    const wrong = checkDocument(options.anchor, key);
    anchor = options.anchor as unknown as TrailAnchor;
    if (wrong) return anchorProblem(anchor, `the retention anchor ${wrong}`);
  }
  const first = files[0];
  // Segments older than the anchor: retention was interrupted before it deleted them.
  const pending = anchor && first?.segment !== undefined && first.segment < anchor.segment;
  const start = pending
    ? undefined
    : anchor
      ? { seq: anchor.seq + 1, hash: anchor.hash }
      : { seq: 1, hash: GENESIS_HASH };
  const verifier = new ChainVerifier({
    key,
    start,
    expectSegment: pending ? first?.segment : (anchor?.segment ?? 1),
    checkpoint: options.checkpoint,
  });
  for (const file of files) {
    if (anchor && verifier.expectSegment === anchor.segment && verifier.expectSeq !== undefined) {
      if (verifier.expectSeq !== anchor.seq + 1)
        return anchorProblem(anchor, 'the retention anchor does not match the segments it kept');
    }
    const data = await file.read();
    const ok = await verifier.lines(data, 0, data.length, {
      file: file.name,
      segmentFile: true,
      segmentFromName: file.segment,
    });
    if (!ok) break;
  }
  const report = verifier.finish();
  if (anchor && report.startsAt === anchor.seq + 1)
    report.retention = { removedThrough: anchor.seq, at: anchor.at };
  return report;
}

function anchorProblem(anchor: TrailAnchor, message: string): VerifyReport {
  return {
    ok: false,
    entries: 0,
    segments: 0,
    firstSeq: null,
    lastSeq: null,
    lastHash: null,
    startsAt: null,
    macs: 'none',
    problem: {
      kind: 'changed',
      seq: typeof anchor.seq === 'number' ? anchor.seq + 1 : null,
      segment: typeof anchor.segment === 'number' ? anchor.segment : null,
      file: AUDIT_FILES.anchor,
      line: 0,
      message,
    },
  };
}
