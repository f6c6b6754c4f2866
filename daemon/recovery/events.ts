import type { Actor } from '../../protocol/wire.ts';
import type { IndexEntry, Manifest } from './manifest.ts';
import type { RepairReport } from './repair.ts';
import type { RestoreOutcome } from './restore.ts';

/**
 * What the recovery part announces. Every payload is self-contained (times,
 * actor, the backup's identity and checksums), so a subscriber such as the
 * audit trail records it without asking anything back.
 */
export interface RecoveryEvents {
  'backup.created': BackupCreatedEvent;
  'backup.pruned': BackupPrunedEvent;
  'backup.verified': BackupVerifiedEvent;
  'restore.started': RestoreStartedEvent;
  'restore.finished': RestoreFinishedEvent;
  /** A state file was repaired (or reset) at start; emitted once the part starts. */
  repair: RepairReport;
}

export interface BackupSummary {
  id: string;
  kind: Manifest['kind'];
  source: Manifest['source'];
  tag?: string;
  restorePoint?: { name: string; description: string };
  createdAt: string;
  revision: Manifest['revision'];
  sizeBytes: number;
  files: { name: string; bytes: number; sha256: string }[];
}

export interface BackupCreatedEvent {
  at: string;
  actor?: Actor;
  backup: BackupSummary;
  durationMs: number;
}

export interface BackupPrunedEvent {
  at: string;
  actor?: Actor;
  removed: { id: string; kind: string; createdAt: string; reasons: string[] }[];
  kept: number;
}

export interface BackupVerifiedEvent {
  at: string;
  actor?: Actor;
  backupId: string;
  ok: boolean;
  problems: string[];
  bytes: number;
}

export interface RestoreStartedEvent {
  at: string;
  actor?: Actor;
  restoreId: string;
  backup: BackupSummary;
  /** The full backup of the state as it was just before. */
  safetyBackupId?: string;
  /** True when the state had not changed since that backup, so no new one was written. */
  safetyBackupReused?: boolean;
  /** `live`: into the running daemon; `safe-mode`: a repair that leaves safe mode. */
  mode: 'live' | 'safe-mode';
}

export interface RestoreFinishedEvent {
  at: string;
  actor?: Actor;
  restoreId: string;
  backup: BackupSummary;
  ok: boolean;
  durationMs: number;
  safetyBackupId?: string;
  safetyBackupReused?: boolean;
  error?: { code: string; message: string };
  outcome?: RestoreOutcome;
}

export function summarize(entry: IndexEntry): BackupSummary {
  return {
    id: entry.id,
    kind: entry.kind,
    source: entry.source,
    ...(entry.tag !== undefined ? { tag: entry.tag } : {}),
    ...(entry.restorePoint ? { restorePoint: entry.restorePoint } : {}),
    createdAt: entry.createdAt,
    revision: entry.revision,
    sizeBytes: entry.sizeBytes,
    files: entry.files.map(({ name, bytes, sha256 }) => ({ name, bytes, sha256 })),
  };
}
