import { type FileHandle, open, readdir, rename, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_FILES, sealedSegmentName, sealedSegmentNumber } from '../../protocol/audit.ts';
import {
  GENESIS_HASH,
  headerBody,
  isHeaderLine,
  linkOf,
  type MacKey,
  parseEntryHead,
  parseHeader,
  parseSeal,
  type SegmentHeader,
  sealNode,
  TIME_LENGTH,
} from '../../protocol/audit-chain.ts';
import { fsyncDirectory, readFileIfExists, writeFileAtomic } from '../core/atomic-file.ts';

/** The next segment, and the last entry the chain continues from. */
export interface ChainEnd {
  segment: number;
  seq: number;
  link: string;
  timeMs: number;
}

/** The files of one audit folder, by role. */
export class SegmentFiles {
  readonly dir: string;
  readonly live: string;
  readonly anchor: string;
  readonly head: string;

  constructor(dir: string) {
    this.dir = dir;
    this.live = join(dir, AUDIT_FILES.live);
    this.anchor = join(dir, AUDIT_FILES.anchor);
    this.head = join(dir, AUDIT_FILES.head);
  }

  sealed(segment: number): string {
    return join(this.dir, sealedSegmentName(segment));
  }

  /** Rotated segment numbers, oldest first, and whether the live file exists. */
  async list(): Promise<{ sealed: number[]; live: boolean }> {
    const names = await readdir(this.dir);
    const sealed = names
      .map(sealedSegmentNumber)
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b);
    return { sealed, live: names.includes(AUDIT_FILES.live) };
  }

  /** Renames the live segment to its rotated name (read-only from then on). */
  async seal(segment: number): Promise<void> {
    const path = this.sealed(segment);
    await rename(this.live, path);
    await fsyncDirectory(this.dir);
  }

  /**
   * Starts a live segment: its header, fdatasynced, is the first line. A
   * torn file left by a crash during a previous attempt is replaced.
   */
  async create(
    header: SegmentHeader,
    key: MacKey | undefined,
  ): Promise<{ link: string; bytes: number }> {
    const { line, link } = sealNode(headerBody(header), key);
    const handle = await open(this.live, 'w', 0o600);
    try {
      await handle.write(line);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fsyncDirectory(this.dir);
    return { link, bytes: Buffer.byteLength(line) };
  }

  /**
   * Where the chain goes on when there is no live segment: after the newest
   * rotated one, else after what retention removed (the anchor), else from
   * the genesis.
   */
  async chainEnd(sealed: number[]): Promise<ChainEnd> {
    const newest = sealed.at(-1);
    const found = newest === undefined ? undefined : await readHeader(this.sealed(newest));
    if (newest !== undefined && found) {
      const tail = await readTail(this.sealed(newest), found);
      return { segment: newest + 1, seq: tail.seq, link: tail.link, timeMs: tail.timeMs };
    }
    const anchor = await this.readDocument(this.anchor);
    if (anchor && typeof anchor.seq === 'number' && typeof anchor.hash === 'string') {
      return { segment: Number(anchor.segment), seq: anchor.seq, link: anchor.hash, timeMs: 0 };
    }
    return { segment: 1, seq: 0, link: GENESIS_HASH, timeMs: 0 };
  }

  async readDocument(path: string): Promise<Record<string, unknown> | undefined> {
    const text = await readFileIfExists(path);
    if (text === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  writeDocument(path: string, doc: object): Promise<void> {
    return writeFileAtomic(path, `${JSON.stringify(doc)}\n`, 0o600);
  }
}

/** A segment's header and its link (what the first entry's `prev` holds). */
export interface HeaderRead {
  header: SegmentHeader;
  link: string;
}

/** A segment's first line, if it is a well-formed header. */
export async function readHeader(path: string): Promise<HeaderRead | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return await headerOf(handle);
  } finally {
    await handle.close();
  }
}

/** The header at the start of an open segment (read with its own offset, so the handle is shared safely). */
export async function headerOf(handle: FileHandle): Promise<HeaderRead | undefined> {
  const buf = Buffer.alloc(1024);
  const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
  const end = buf.subarray(0, bytesRead).indexOf(10);
  if (end === -1 || !isHeaderLine(buf, 0)) return undefined;
  const seal = parseSeal(buf, 0, end);
  const header = seal && parseHeader(buf, 0, seal);
  return seal && header ? { header, link: linkOf(seal.hash, seal.mac) } : undefined;
}

export interface SegmentTail {
  /** Last entry's seq and link, or the header's when the segment has no entry yet. */
  seq: number;
  link: string;
  /** Time of the last entry (ms), or 0. */
  timeMs: number;
  entries: boolean;
  /** Bytes of the file up to and including the last complete line. */
  size: number;
  /** Bytes after the last complete line (an unfinished write). */
  tornBytes: number;
}

const TAIL_WINDOW = 64 * 1024;

/**
 * The end of a segment: its last entry (read backwards, a window at a
 * time), and how many bytes of an unfinished last line follow it.
 */
export async function readTail(path: string, start: HeaderRead): Promise<SegmentTail> {
  const header = { ...start.header, link: start.link };
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    let window = Math.min(size, TAIL_WINDOW);
    for (;;) {
      const buf = Buffer.alloc(window);
      await handle.read(buf, 0, window, size - window);
      const tail = scanWindow(buf, size - window, size, header);
      if (tail || window === size) return tail ?? emptyTail(header, size, 0);
      window = Math.min(size, window * 4);
    }
  } finally {
    await handle.close();
  }
}

function emptyTail(
  header: SegmentHeader & { link: string },
  size: number,
  torn: number,
): SegmentTail {
  return {
    seq: header.firstSeq - 1,
    link: header.link,
    timeMs: 0,
    entries: false,
    size,
    tornBytes: torn,
  };
}

/** Scans `buf` (the file's bytes from `offset`) backwards for the last entry. */
function scanWindow(
  buf: Buffer,
  offset: number,
  size: number,
  header: SegmentHeader & { link: string },
): SegmentTail | undefined {
  const lastNl = buf.lastIndexOf(10);
  if (lastNl === -1) return offset === 0 ? emptyTail(header, 0, size) : undefined;
  const complete = offset + lastNl + 1;
  const torn = size - complete;
  let end = lastNl;
  while (end > 0) {
    const start = buf.lastIndexOf(10, end - 1) + 1;
    if (start === 0 && offset > 0) return undefined; // the line may begin before the window
    if (isHeaderLine(buf, start)) return emptyTail(header, complete, torn);
    const seal = parseSeal(buf, start, end);
    const head = seal && parseEntryHead(buf, start, seal.bodyEnd);
    if (seal && head) {
      const timeMs = Date.parse(buf.toString('latin1', head.timeAt, head.timeAt + TIME_LENGTH));
      return {
        seq: head.seq,
        link: linkOf(seal.hash, seal.mac),
        timeMs,
        entries: true,
        size: complete,
        tornBytes: torn,
      };
    }
    end = start - 1;
  }
  return offset === 0 ? emptyTail(header, complete, torn) : undefined;
}

export async function cutTo(path: string, size: number): Promise<void> {
  await truncate(path, size);
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
