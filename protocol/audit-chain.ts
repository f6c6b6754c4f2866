/**
 * The audit trail's hash chain: how a node (an entry or a segment header)
 * is sealed into a line, and how a line is taken apart again. The verifier
 * (audit-verify.ts) and the daemon's writer and reader all use these.
 *
 * A line is `{<body>,"hash":"<sha256 of body>"[,"mac":"<hmac of hash>"]}`:
 * the hash covers the body's bytes exactly as written, and the body holds
 * the previous node's link in `prev`, so every hash depends on all before.
 * The link is the hash, or for a keyed node the SHA-256 of hash and MAC:
 * the chain then covers every MAC too, so one good MAC vouches for every
 * node before it, and verify need not compute one per entry.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from './audit.ts';

export const GENESIS_HASH = '0'.repeat(64);

export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

const BLOCK = 64;
const SCRATCH = 256;

/**
 * HMAC-SHA256 under one key (RFC 2104), computed from two one-shot hashes
 * over preallocated buffers: `createHmac` costs ~11 µs per call on the
 * reference machine and this ~1.2 µs, and verify computes one per entry.
 * `test/audit/chain.test.ts` checks it against `createHmac`.
 */
export class MacKey {
  readonly #inner = Buffer.alloc(BLOCK + SCRATCH);
  readonly #outer = Buffer.alloc(BLOCK + 32);
  /** A short fingerprint of the key, stored in segment headers (never the key). */
  readonly id: string;

  constructor(secret: Uint8Array) {
    if (secret.length < 16) throw new RangeError('an audit key needs at least 16 bytes');
    const key = secret.length > BLOCK ? hash('sha256', secret, 'buffer') : secret;
    for (let i = 0; i < BLOCK; i++) {
      const k = key[i] ?? 0;
      this.#inner[i] = k ^ 0x36;
      this.#outer[i] = k ^ 0x5c;
    }
    this.id = this.mac('hive-audit-key-id').slice(0, 16);
  }

  mac(message: string): string {
    const length = Buffer.byteLength(message);
    const inner =
      length <= SCRATCH
        ? this.#inner.subarray(0, BLOCK + this.#inner.write(message, BLOCK, 'utf8'))
        : Buffer.concat([this.#inner.subarray(0, BLOCK), Buffer.from(message)]);
    hash('sha256', inner, 'buffer').copy(this.#outer, BLOCK);
    return hash('sha256', this.#outer, 'hex');
  }

  /**
   * A key from the bytes of a key file or variable: surrounding whitespace
   * (a trailing newline) is not part of it, and it must have 16 bytes or more.
   */
  static fromSecret(secret: Uint8Array): MacKey {
    return new MacKey(Buffer.from(Buffer.from(secret).toString('latin1').trim(), 'latin1'));
  }

  /** A separate key for another purpose, so a digest made for one can never pass for the other. */
  derive(purpose: string): MacKey {
    return new MacKey(Buffer.from(this.mac(`hive-audit-derive:${purpose}`), 'hex'));
  }
}

/** What the next node's `prev` holds: the hash, or for a keyed node the hash of hash and MAC. */
export function linkOf(hash: string, mac: string | undefined): string {
  return mac === undefined ? hash : sha256Hex(hash + mac);
}

/** Closes a node's body with its hash (and MAC): the line to store, newline included, and its link. */
export function sealNode(body: string, key: MacKey | undefined): { line: string; link: string } {
  const digest = sha256Hex(body);
  const mac = key?.mac(digest);
  const macField = mac === undefined ? '' : `,"mac":"${mac}"`;
  return { line: `${body},"hash":"${digest}"${macField}}\n`, link: linkOf(digest, mac) };
}

export function entryBody(seq: number, prev: string, time: string, rest: string): string {
  return `{"seq":${seq},"prev":"${prev}","time":"${time}",${rest}`;
}

export interface SegmentHeader {
  segment: number;
  firstSeq: number;
  prev: string;
  created: string;
  format: 1;
  keyed: boolean;
  keyId?: string;
}

export function headerBody(h: SegmentHeader): string {
  const keyId = h.keyId ? `,"keyId":"${h.keyId}"` : '';
  return `{"segment":${h.segment},"firstSeq":${h.firstSeq},"prev":"${h.prev}","created":"${h.created}","format":1,"keyed":${h.keyed}${keyId}`;
}

export interface Seal {
  /** Where the body ends (the hash field starts). */
  bodyEnd: number;
  hash: string;
  mac: string | undefined;
}

const HASH_FIELD = ',"hash":"';
const MAC_FIELD = ',"mac":"';
const HASH_TAIL = HASH_FIELD.length + 64 + 1;
const MAC_TAIL = MAC_FIELD.length + 64 + 1;

function bytesAre(buf: Uint8Array, at: number, text: string): boolean {
  if (at < 0 || at + text.length > buf.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The sealed fields of the line `buf[start, end)` (end: the newline), found
 * by position: the tail has a fixed size, so no JSON parse is needed.
 * Undefined when the line does not have the shape of a sealed node.
 */
export function parseSeal(buf: Buffer, start: number, end: number): Seal | undefined {
  if (end - start < HASH_TAIL + 2 || buf[end - 1] !== 0x7d) return undefined;
  const closing = end - 1;
  const hasMac = bytesAre(buf, closing - MAC_TAIL, MAC_FIELD) && buf[closing - 1] === 0x22;
  const hashEnd = hasMac ? closing - MAC_TAIL : closing;
  const bodyEnd = hashEnd - HASH_TAIL;
  if (bodyEnd <= start || !bytesAre(buf, bodyEnd, HASH_FIELD) || buf[hashEnd - 1] !== 0x22)
    return undefined;
  const hashStart = bodyEnd + HASH_FIELD.length;
  return {
    bodyEnd,
    hash: buf.toString('latin1', hashStart, hashStart + 64),
    mac: hasMac
      ? buf.toString('latin1', hashEnd + MAC_FIELD.length, hashEnd + MAC_FIELD.length + 64)
      : undefined,
  };
}

const SEQ_PREFIX = '{"seq":';
const PREV_FIELD = ',"prev":"';
const TIME_FIELD = '","time":"';
/** Length of an ISO time with milliseconds: 2026-11-23T14:30:00.123Z. */
export const TIME_LENGTH = 24;

export interface EntryHead {
  seq: number;
  prev: string;
  /** Offset of the time value (24 characters). */
  timeAt: number;
}

/** `seq`, `prev` and where `time` sits, read by position from an entry line. */
export function parseEntryHead(buf: Buffer, start: number, bodyEnd: number): EntryHead | undefined {
  if (!bytesAre(buf, start, SEQ_PREFIX)) return undefined;
  let at = start + SEQ_PREFIX.length;
  let seq = 0;
  const digitsFrom = at;
  for (let c = buf[at]; c !== undefined && c >= 0x30 && c <= 0x39; c = buf[++at]) {
    seq = seq * 10 + (c - 0x30);
  }
  if (at === digitsFrom || at - digitsFrom > 15 || !bytesAre(buf, at, PREV_FIELD)) return undefined;
  const prevAt = at + PREV_FIELD.length;
  const timeAt = prevAt + 64 + TIME_FIELD.length;
  if (!bytesAre(buf, prevAt + 64, TIME_FIELD) || timeAt + TIME_LENGTH + 2 > bodyEnd)
    return undefined;
  return { seq, prev: buf.toString('latin1', prevAt, prevAt + 64), timeAt };
}

/** True when the line starts like a segment header. */
export function isHeaderLine(buf: Buffer, start: number): boolean {
  return bytesAre(buf, start, '{"segment":');
}

/** Reads a header line's fields (headers are rare: a JSON parse is fine). */
export function parseHeader(buf: Buffer, start: number, seal: Seal): SegmentHeader | undefined {
  try {
    const value = JSON.parse(`${buf.toString('utf8', start, seal.bodyEnd)}}`) as SegmentHeader;
    const ok =
      Number.isInteger(value.segment) &&
      Number.isInteger(value.firstSeq) &&
      typeof value.prev === 'string' &&
      typeof value.created === 'string';
    return ok ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The seal of a small JSON document (anchor, head, export header): its hash and MAC. */
export interface DocumentSeal {
  sha256: string;
  mac?: string;
}

/** Seals a small JSON document (anchor, head, export header) so it can be checked on its own. */
export function sealDocument<T extends object>(
  doc: T,
  key: MacKey | undefined,
): T & { seal: DocumentSeal } {
  const digest = sha256Hex(canonicalJson(doc));
  return { ...doc, seal: { sha256: digest, ...(key ? { mac: key.mac(digest) } : {}) } };
}

/** Checks a document sealed by `sealDocument`; returns what is wrong, or undefined. */
export function checkDocument(
  sealed: Record<string, unknown>,
  key: MacKey | undefined,
): string | undefined {
  const { seal, ...doc } = sealed;
  const { sha256, mac } = (seal ?? {}) as Partial<DocumentSeal>;
  if (typeof sha256 !== 'string' || sha256Hex(canonicalJson(doc)) !== sha256)
    return 'does not match its hash';
  if (key && mac === undefined) return 'has no MAC although a key is configured';
  if (key && key.mac(sha256) !== mac) return 'MAC does not match (changed without the key)';
  return undefined;
}
