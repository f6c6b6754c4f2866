import { unlink } from 'node:fs/promises';
import { type MacKey, sealDocument } from '../../protocol/audit-chain.ts';
import { fsyncDirectory, isNodeError } from '../core/atomic-file.ts';
import { readHeader, type SegmentFiles } from './segments.ts';

export interface RetentionPolicy {
  /** Rotated segments kept (0: all). */
  keepSegments: number;
  /** Rotated segments older than this are removed (0: never). */
  maxAgeMs: number;
}

/**
 * Removes rotated segments beyond `keepSegments` or older than `maxAgeMs`.
 * The anchor is written first: a crash between the steps leaves old
 * segments the anchor no longer needs, never a trail that looks cut.
 * Returns what it removed, or undefined when nothing was due.
 */
export async function applyRetention(
  files: SegmentFiles,
  policy: RetentionPolicy,
  context: {
    /** The live segment's number. */
    live: number;
    now: number;
    key: MacKey | undefined;
    onStep: (step: 'retention:anchored' | 'retention:removed') => void;
  },
): Promise<{ segments: number[]; throughSeq: number } | undefined> {
  const pathOf = (segment: number) =>
    segment === context.live ? files.live : files.sealed(segment);
  const doomed = await doomedSegments(files, policy, context.now, pathOf);
  const last = doomed.at(-1);
  if (last === undefined) return undefined;
  const kept = await readHeader(pathOf(last + 1));
  if (!kept) throw new Error(`segment ${last + 1} has no readable header; retention skipped`);
  const throughSeq = kept.header.firstSeq - 1;
  const anchor = sealDocument(
    {
      segment: last + 1,
      seq: throughSeq,
      hash: kept.header.prev,
      at: new Date(context.now).toISOString(),
      removedSegments: [doomed[0], last],
    },
    context.key,
  );
  await files.writeDocument(files.anchor, anchor);
  context.onStep('retention:anchored');
  for (const segment of doomed) {
    await unlink(files.sealed(segment)).catch((error: unknown) => {
      if (!isNodeError(error) || error.code !== 'ENOENT') throw error;
    });
    context.onStep('retention:removed');
  }
  await fsyncDirectory(files.dir);
  return { segments: doomed, throughSeq };
}

async function doomedSegments(
  files: SegmentFiles,
  { keepSegments, maxAgeMs }: RetentionPolicy,
  now: number,
  pathOf: (segment: number) => string,
): Promise<number[]> {
  if (keepSegments === 0 && maxAgeMs === 0) return [];
  const { sealed } = await files.list();
  const doomed = new Set(
    keepSegments > 0 ? sealed.slice(0, Math.max(0, sealed.length - keepSegments)) : [],
  );
  if (maxAgeMs > 0) {
    // A segment ends when the next one starts: its header time.
    for (const segment of sealed) {
      const header = await readHeader(pathOf(segment + 1));
      if (!header || now - Date.parse(header.header.created) < maxAgeMs) break;
      doomed.add(segment);
    }
  }
  // Only a contiguous run from the oldest: a hole would look like a deleted segment.
  const out: number[] = [];
  for (const segment of sealed) {
    if (!doomed.has(segment)) break;
    out.push(segment);
  }
  return out;
}
