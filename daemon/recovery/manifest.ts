import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * What a backup is made of. `full` is every state kind captured in one turn
 * of the event loop, so its files describe the same instant.
 */
export const BACKUP_KINDS = ['registry', 'queue', 'assignments', 'full'] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

/** A state kind: one file in a backup. */
export type StatePart = 'queue' | 'registry' | 'assignments';

export const PARTS_OF: Record<BackupKind, readonly StatePart[]> = {
  registry: ['registry'],
  queue: ['queue'],
  assignments: ['assignments'],
  full: ['queue', 'registry', 'assignments'],
};

export const BACKUP_SOURCES = [
  'manual',
  'schedule',
  'pre-restore',
  'pre-promote',
  'restore-point',
] as const;
export type BackupSource = (typeof BACKUP_SOURCES)[number];

const FileSchema = z.strictObject({
  name: z.string().regex(/^[a-z]+\.json$/),
  part: z.enum(['queue', 'registry', 'assignments']),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const ManifestSchema = z.strictObject({
  format: z.literal(1),
  id: z.string().regex(/^[0-9]{8}T[0-9]{9}Z-[a-z]+-[0-9a-f]{6}$/),
  kind: z.enum(BACKUP_KINDS),
  createdAt: z.string(),
  createdAtMs: z.number().int(),
  source: z.enum(BACKUP_SOURCES),
  tag: z.string().optional(),
  restorePoint: z.strictObject({ name: z.string(), description: z.string() }).optional(),
  /** The state captured: the queue's last applied journal seq and the registry's SHA-256. */
  revision: z.strictObject({ queueSeq: z.number().int().min(0), registrySha256: z.string() }),
  counts: z.strictObject({
    tasks: z.number().int().optional(),
    tasksByState: z.record(z.string(), z.number().int()).optional(),
    bots: z.number().int().optional(),
    scaleOverrides: z.number().int().optional(),
    assignments: z.number().int().optional(),
  }),
  sizeBytes: z.number().int().min(0),
  files: z.array(FileSchema).min(1),
  hived: z.strictObject({ version: z.string(), pid: z.number().int(), host: z.string() }),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type BackupFileEntry = z.infer<typeof FileSchema>;
export type Revision = Manifest['revision'];

/** The last verification of a backup, kept in the index. */
export interface CheckResult {
  at: string;
  ok: boolean;
  problems: string[];
}

export interface IndexEntry extends Manifest {
  check?: CheckResult;
}

/**
 * `20261123T142212798Z-full-3fa2c1`: sorts by time, says what it is, and
 * the random tail keeps two backups of one millisecond apart.
 */
export function backupId(createdAtMs: number, label: string): string {
  const stamp = new Date(createdAtMs).toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${label}-${randomBytes(3).toString('hex')}`;
}

/** Group for retention and display: restore points are kept apart from plain backups. */
export function groupOf(entry: Pick<Manifest, 'kind' | 'restorePoint'>): string {
  return entry.restorePoint ? 'restore-point' : entry.kind;
}

export function sameRevision(a: Revision, b: Revision): boolean {
  return a.queueSeq === b.queueSeq && a.registrySha256 === b.registrySha256;
}
