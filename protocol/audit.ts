/**
 * The audit trail's vocabulary and file layout, shared by the daemon (which
 * writes and queries the trail) and the client (which verifies exports
 * offline). AUDIT.md documents every action type listed here; a test checks.
 */

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Every action type other than the `command.<name>` family (one per control
 * command). Each has a default severity; a recorder may raise it.
 */
export const AUDIT_ACTIONS = {
  'daemon.start': { severity: 'info', summary: 'hived started (clean, or after a crash)' },
  'daemon.stop': { severity: 'info', summary: 'hived began a graceful stop' },
  'bot.start': { severity: 'info', summary: 'a bot process was launched' },
  'bot.ready': { severity: 'info', summary: 'a bot finished its handshake and takes tasks' },
  'bot.stop': { severity: 'info', summary: 'a bot stopped on request (scale down, restart, stop)' },
  'bot.crash': { severity: 'warning', summary: 'a bot exited without being asked to' },
  'bot.kill': {
    severity: 'warning',
    summary: 'hived killed a bot (missed heartbeats, no ready in time, protocol violation)',
  },
  'bot.memory_limit': { severity: 'warning', summary: 'hived killed a bot over its memory limit' },
  'bot.restart': { severity: 'info', summary: 'a bot is restarted (after a crash, or on request)' },
  'bot.failed': { severity: 'critical', summary: 'a bot was given up after a crash loop' },
  'task.dead_letter': { severity: 'warning', summary: 'a task was dead-lettered' },
  'task.cancel': { severity: 'info', summary: 'a task was cancelled' },
  'task.retry': { severity: 'info', summary: 'a dead or failed task was sent back to the queue' },
  'message.dead_letter': {
    severity: 'warning',
    summary: 'a bot-to-bot message was dead-lettered (rejected, expired, maxlen, delivery_limit)',
  },
  'message.requeue': {
    severity: 'info',
    summary: 'a dead or expired message was sent back to its inbox',
  },
  'config.applied': { severity: 'info', summary: 'a configuration change took effect' },
  'config.rejected': { severity: 'warning', summary: 'a configuration change was refused' },
  'backup.created': { severity: 'info', summary: 'a backup was written' },
  'backup.pruned': { severity: 'info', summary: 'backup retention removed old backups' },
  'backup.verified': {
    severity: 'info',
    summary: 'a backup was checked against its checksums (critical when damaged)',
  },
  'backup.restore_started': {
    severity: 'warning',
    summary: 'a restore began (after the safety backup it names)',
  },
  'backup.restored': {
    severity: 'warning',
    summary: 'a restore finished and the state is the backup (critical when it failed)',
  },
  'state.repaired': {
    severity: 'critical',
    summary: 'at start, a damaged state file was repaired or reset from a backup',
  },
  'mode.changed': {
    severity: 'warning',
    summary: 'the degradation mode changed (critical: MAINTENANCE by a hard threshold)',
  },
  'alert.firing': {
    severity: 'warning',
    summary: 'a health alert fired (critical for a critical rule)',
  },
  'alert.resolved': { severity: 'info', summary: 'a firing health alert resolved' },
  'deploy.started': { severity: 'info', summary: "a deployment's green pool was started" },
  'deploy.step': { severity: 'info', summary: 'a deployment moved to its next step' },
  'deploy.verdict': {
    severity: 'info',
    summary:
      "a deployment step's analysis gave a verdict (PASS, FAIL, INCONCLUSIVE, ERROR), or a bake gate failed",
  },
  'deploy.paused': {
    severity: 'info',
    summary: 'a deployment was paused (by hand or past maxHold)',
  },
  'deploy.resumed': {
    severity: 'info',
    summary: 'a deployment resumed (by hand, or after a daemon restart)',
  },
  'deploy.promoted': { severity: 'info', summary: 'a deployment was promoted (bake begins)' },
  'deploy.rolled_back': {
    severity: 'warning',
    summary: 'a deployment was rolled back (by hand, a failed analysis, a gate or a bake gate)',
  },
  'deploy.finished': {
    severity: 'info',
    summary: 'a deployment ended: green runs the kind, or green is stopped',
  },
  'audit.sink_broken': {
    severity: 'critical',
    summary: 'the trail could not be written; entries wait in memory',
  },
  'audit.sink_recovered': {
    severity: 'warning',
    summary: 'the trail is writable again; what waited is written',
  },
  'audit.repaired': {
    severity: 'warning',
    summary: 'an unfinished write left by a crash was cut off at start',
  },
  'audit.gap': {
    severity: 'critical',
    summary: 'the trail on disk ends before the last head hived recorded (entries removed)',
  },
  'audit.retention': { severity: 'info', summary: 'old segments were removed; an anchor remains' },
} as const satisfies Record<string, { severity: Severity; summary: string }>;

export type EventAction = keyof typeof AUDIT_ACTIONS;
/** `command.task.submit` and so on: one per control command. */
export type CommandAction = `command.${string}`;
export type AuditAction = EventAction | CommandAction;

export function isAuditAction(value: string): value is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, value) || /^command\.[a-z][a-z0-9._-]*$/.test(value);
}

export function defaultSeverity(action: AuditAction): Severity {
  return (AUDIT_ACTIONS as Record<string, { severity: Severity }>)[action]?.severity ?? 'info';
}

export type ActorType = 'user' | 'daemon' | 'bot' | 'web';
export type CommandResult = 'pending' | 'ok' | 'error' | 'refused';

/** One entry as it is stored (fields in this order; see AUDIT.md). */
export interface AuditEntry {
  seq: number;
  /** SHA-256 (hex) of the previous chain node: an entry or a segment header. */
  prev: string;
  /** When the entry joined the trail; never decreases along the trail. */
  time: string;
  /** When it happened, if that was more than a second before `time` (written late). */
  at?: string;
  action: AuditAction;
  severity: Severity;
  actor: string;
  actorType: ActorType;
  uid?: number;
  pid?: number;
  /** Whether hived could confirm the claimed uid and pid (/proc). */
  verified?: boolean;
  verifyNote?: string;
  via?: string;
  target?: string;
  reason?: string;
  result?: CommandResult;
  /** Error code of a failed or refused command. */
  error?: string;
  /** Ties the `pending` entry of a mutating command to its outcome. */
  req?: string;
  durationMs?: number;
  args?: Record<string, unknown>;
  details?: Record<string, unknown>;
  hash: string;
  mac?: string;
}

/** `hive audit stats --json` (a contract: fields are added, never renamed). */
export interface AuditStats {
  entries: number;
  firstSeq: number | null;
  lastSeq: number | null;
  from: string | null;
  to: string | null;
  byAction: Record<string, number>;
  byActor: Record<string, number>;
  bySeverity: Record<string, number>;
  /** Entries per hour of trail time, keyed `2026-11-23T14`. */
  perHour: Record<string, number>;
}

/** File names inside the audit folder. */
export const AUDIT_FILES = {
  live: 'audit-trail.jsonl',
  /** The anchor retention leaves: where the remaining trail starts. */
  anchor: 'audit-trail.anchor.json',
  /** The last head hived recorded (rotation, clean stop): catches truncation while it was down. */
  head: 'audit-trail.head.json',
} as const;

const SEALED = /^audit-trail\.(\d{6,})\.jsonl$/;

export function sealedSegmentName(segment: number): string {
  return `audit-trail.${String(segment).padStart(6, '0')}.jsonl`;
}

/** The segment number of a rotated segment's file name, or undefined for any other name. */
export function sealedSegmentNumber(name: string): number | undefined {
  const match = SEALED.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * JSON with object keys sorted at every level and no whitespace: the
 * canonical encoding of `args` and `details`, so equal values always hash
 * alike. Undefined members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return JSON.stringify(value.toString());
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined || typeof member === 'function') continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
  }
  return `{${parts.join(',')}}`;
}
