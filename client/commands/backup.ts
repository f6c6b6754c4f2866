import type { BackupVerifyView } from '../../protocol/views.ts';
import {
  type CliCommand,
  type CliContext,
  defined,
  Exit,
  printProgress,
  stringOption,
  usageError,
} from '../command.ts';
import { ago, bytes, fields, inline, table, time } from '../format.ts';

/** A backup as the daemon lists it (see daemon/recovery/manifest.ts; the client only reads it). */
interface BackupRow {
  id: string;
  kind: string;
  source: string;
  tag?: string;
  restorePoint?: { name: string; description: string };
  createdAt: string;
  createdAtMs: number;
  revision: { queueSeq: number; registrySha256: string };
  sizeBytes: number;
  counts: Record<string, unknown>;
  check?: { at: string; ok: boolean; problems: string[] };
}

interface Manifest extends Omit<BackupRow, 'files'> {
  files: { name: string; part: string; bytes: number; sha256: string }[];
  hived: { version: string; pid: number; host: string };
}

const revision = (r: BackupRow['revision']) => `q${r.queueSeq}/r${r.registrySha256.slice(0, 8)}`;
const checkText = (b: BackupRow) => (b.check ? (b.check.ok ? 'ok' : 'BAD') : '-');

function backupTable(rows: BackupRow[], empty: string): string {
  if (rows.length === 0) return empty;
  return table(
    ['ID', 'KIND', 'SOURCE', 'CREATED', 'SIZE', 'REVISION', 'CHECK', 'TAG / NAME'],
    rows.map((b) => [
      b.id,
      b.kind,
      b.source,
      ago(b.createdAtMs),
      bytes(b.sizeBytes),
      revision(b.revision),
      checkText(b),
      b.restorePoint ? `${b.restorePoint.name}: ${b.restorePoint.description}` : (b.tag ?? ''),
    ]),
  );
}

function renderManifest(result: unknown): string {
  const m = result as Manifest;
  const head = fields([
    ['id', m.id],
    ['kind', m.kind],
    ['source', m.source],
    [
      'restore point',
      m.restorePoint ? `${m.restorePoint.name}: ${m.restorePoint.description}` : undefined,
    ],
    ['tag', m.tag],
    ['created', `${m.createdAt} (${ago(m.createdAtMs)})`],
    [
      'revision',
      `queue seq ${m.revision.queueSeq}, registry ${m.revision.registrySha256.slice(0, 16)}…`,
    ],
    ['size', bytes(m.sizeBytes)],
    ['counts', inline(m.counts)],
    ['by', `hived ${m.hived.version} pid ${m.hived.pid} on ${m.hived.host}`],
    [
      'verified',
      m.check
        ? `${m.check.ok ? 'ok' : `FAILED: ${m.check.problems.join('; ')}`} (${m.check.at})`
        : 'not yet (hive backup verify ID)',
    ],
  ]);
  const files = table(
    ['FILE', 'STATE', 'SIZE', 'SHA-256'],
    m.files.map((f) => [f.name, f.part, bytes(f.bytes), f.sha256]),
  );
  return `${head}\n\n${files}`;
}

function renderCreated(result: unknown): string {
  const m = result as Manifest;
  const what = m.restorePoint ? `restore point ${m.restorePoint.name}` : `${m.kind} backup`;
  return `${what} ${m.id}: ${m.files.length} files, ${bytes(m.sizeBytes)}, revision ${revision(m.revision)}`;
}

type VerifyResult = BackupVerifyView;

async function verify(ctx: CliContext, values: Record<string, unknown>, p: string[]) {
  const all = values.all === true;
  if (!all && p.length === 0) throw usageError('give a backup ID or --all');
  if (all && p.length > 0) throw usageError('give a backup ID or --all, not both');
  const result = (await ctx.call('backup.verify', all ? { all } : { id: p[0] }, {
    long: true,
    onEvent: (event) => printProgress(ctx, event),
  })) as { ok: boolean; results: VerifyResult[] };
  if (ctx.json) ctx.out(JSON.stringify(result));
  else if (result.results.length === 0) ctx.out('no backups to verify');
  else
    for (const r of result.results) {
      const speed = r.checksumMs > 0 ? `, ${Math.round(r.bytes / 1e3 / r.checksumMs)} MB/s` : '';
      ctx.out(
        r.ok
          ? `${r.id}: ok (${bytes(r.bytes)} checked in ${r.checksumMs} ms${speed}; trial restore and invariants ${r.trialMs} ms)`
          : `${r.id}: FAILED\n${r.problems.map((x) => `  - ${x}`).join('\n')}`,
      );
    }
  return result.ok ? Exit.Ok : Exit.Error;
}

interface Plan {
  backup: BackupRow;
  parts: string[];
  safeMode?: boolean;
  effect?: string;
  queue?: {
    backupTasks: number;
    liveTasks: number;
    kept: { count: number };
    rolledBack: { count: number };
    reappeared: number;
    requeued: number;
    liveRunningRequeued: number;
    keyConflicts: unknown[];
  };
  registry?: { scaleNow: unknown; scaleAfter: unknown };
}

function renderPlan(plan: Plan): string {
  const lines = [
    `Restoring ${plan.backup.id} (${plan.backup.kind}, ${plan.backup.createdAt}) would replace: ${plan.parts.join(', ') || 'nothing'}.`,
  ];
  if (plan.effect) lines.push(plan.effect);
  const q = plan.queue;
  if (q) {
    lines.push(
      `- first, a full backup of the current state is taken (to undo this restore)`,
      `- running tasks now: ${q.liveRunningRequeued}, put back in the queue (their bots are told to drop them)`,
      `- the queue becomes the backup's ${q.backupTasks} tasks (${q.reappeared} of them are not in the queue now)`,
      `- ${q.rolledBack.count} tasks go back to the state they had in the backup`,
      `- ${q.kept.count} tasks submitted since the backup are kept as they are, and listed in the report${q.keyConflicts.length > 0 ? ` (${q.keyConflicts.length} lose their idempotency key to an older task)` : ''}`,
      `- ${q.requeued} leases held in the backup are requeued`,
    );
  }
  if (plan.registry)
    lines.push(
      `- bot scale overrides: now ${inline(plan.registry.scaleNow)}, after ${inline(plan.registry.scaleAfter)}`,
    );
  return lines.join('\n');
}

async function restore(ctx: CliContext, values: Record<string, unknown>, p: string[]) {
  const id = p[0] as string;
  if (values.yes !== true) {
    const plan = (await ctx.call('backup.restore-plan', { id }, { long: true })) as Plan;
    if (ctx.json) ctx.out(JSON.stringify({ confirmed: false, plan }));
    else ctx.out(`${renderPlan(plan)}\n\nNothing was changed. Run again with --yes to restore.`);
    return Exit.Error;
  }
  const result = (await ctx.call(
    'backup.restore',
    { id },
    { long: true, onEvent: (event) => printProgress(ctx, event) },
  )) as {
    backup: BackupRow;
    durationMs: number;
    safetyBackupId?: string;
    leavingSafeMode?: boolean;
    outcome?: { queue?: Plan['queue'] & { kept: { sample: { id: string; state: string }[] } } };
  };
  if (ctx.json) {
    ctx.out(JSON.stringify(result));
    return Exit.Ok;
  }
  const lines = [`restored ${result.backup.id} in ${result.durationMs} ms`];
  if (result.safetyBackupId) lines.push(`the state before is in backup ${result.safetyBackupId}`);
  if (result.leavingSafeMode) lines.push('hived leaves safe mode and loads the restored state');
  const q = result.outcome?.queue;
  if (q) {
    lines.push(
      `queue: ${q.backupTasks} tasks from the backup; ${q.kept.count} newer tasks kept; ${q.rolledBack.count} rolled back; ${q.requeued} leases requeued`,
    );
    for (const t of q.kept.sample) lines.push(`  kept ${t.id} (${t.state})`);
  }
  ctx.out(lines.join('\n'));
  return Exit.Ok;
}

interface Decision {
  id: string;
  group: string;
  createdAtMs: number;
  reasons: string[];
}

function renderPrune(result: unknown): string {
  const r = result as { dryRun: boolean; removed: Decision[]; kept: Decision[] };
  const verb = r.dryRun ? 'would delete' : 'deleted';
  if (r.removed.length === 0) return `nothing to prune (${r.kept.length} backups kept)`;
  return `${verb} ${r.removed.length} backups, ${r.kept.length} kept:\n${table(
    ['ID', 'GROUP', 'CREATED', 'WHY'],
    r.removed.map((d) => [d.id, d.group, time(d.createdAtMs), d.reasons.join('; ')]),
  )}`;
}

interface RecoveryStatus {
  mode: string;
  safeMode?: { reason: string; hint: string };
  lastStart: string;
  lastStartDetail: string;
  stateFiles: { file: string; status: string; detail: string }[];
  repairs: { file: string; problem: string; action: string; lost?: string }[];
  backups: { dir: string; count: number; bytes: number };
  lastBackup: BackupRow | null;
  schedule: { intervalMs: number; nextAt: number | null; lastOutcome?: string };
  operation: { name: string; since: number } | null;
  lastRestore?: { at: string; backupId: string; ok: boolean; detail: string };
  problems: string[];
}

function renderRecovery(result: unknown): string {
  const s = result as RecoveryStatus;
  const lines = [
    `mode: ${s.mode === 'safe' ? 'SAFE MODE (nothing is dispatched)' : 'normal'}`,
    `last start: ${s.lastStart} (${s.lastStartDetail})`,
  ];
  if (s.safeMode) lines.push(`safe mode: ${s.safeMode.reason}`, `what to do: ${s.safeMode.hint}`);
  lines.push('state files:');
  for (const f of s.stateFiles) lines.push(`  ${f.file}: ${f.status}: ${f.detail}`);
  for (const r of s.repairs)
    lines.push(`repaired ${r.file}: ${r.problem}; ${r.action}${r.lost ? `; lost: ${r.lost}` : ''}`);
  lines.push(
    `backups: ${s.backups.count} (${bytes(s.backups.bytes)}) in ${s.backups.dir}`,
    `last backup: ${s.lastBackup ? `${s.lastBackup.id} (${s.lastBackup.kind}, ${s.lastBackup.source}, ${s.lastBackup.createdAt})` : 'none'}`,
    `next scheduled: ${s.schedule.nextAt ? time(s.schedule.nextAt) : s.schedule.intervalMs === 0 ? 'off (backup.intervalMs is 0)' : 'none'}${s.schedule.lastOutcome ? `; last run: ${s.schedule.lastOutcome}` : ''}`,
  );
  if (s.operation) lines.push(`running now: ${s.operation.name} since ${time(s.operation.since)}`);
  if (s.lastRestore)
    lines.push(
      `last restore: ${s.lastRestore.backupId} ${s.lastRestore.ok ? 'ok' : 'FAILED'}: ${s.lastRestore.detail}`,
    );
  lines.push(
    s.problems.length === 0
      ? 'problems: none'
      : `problems:\n${s.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  return lines.join('\n');
}

const kindOption = {
  kind: { type: 'string' as const, arg: 'K', help: 'registry, queue, assignments or full' },
};

export const backupCommands: CliCommand[] = [
  {
    words: ['backup', 'create'],
    summary: 'Take a backup (default: full, every state kind as one snapshot)',
    options: {
      ...kindOption,
      tag: { type: 'string', arg: 'T', help: 'a note kept with the backup' },
    },
    request: (v) => ({
      cmd: 'backup.create',
      args: defined({ kind: stringOption(v, 'kind'), tag: stringOption(v, 'tag') }),
    }),
    waits: () => true,
    render: renderCreated,
  },
  {
    words: ['backup', 'ls'],
    summary: 'List backups, oldest first',
    options: kindOption,
    request: (v) => ({ cmd: 'backup.ls', args: defined({ kind: stringOption(v, 'kind') }) }),
    render: (r) => backupTable((r as { backups: BackupRow[] }).backups, 'no backups'),
  },
  {
    words: ['backup', 'show'],
    args: 'ID',
    summary: 'One backup: manifest, files and their SHA-256, last verification',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'backup.show', args: { id: p[0] } }),
    render: renderManifest,
  },
  {
    words: ['backup', 'verify'],
    args: '[ID]',
    summary: 'Check checksums and restore on trial into a scratch folder (exit 1 if one fails)',
    positionals: [0, 1],
    options: { all: { type: 'boolean', help: 'every backup' } },
    run: verify,
  },
  {
    words: ['backup', 'restore'],
    args: 'ID',
    summary: 'Restore a backup or restore point; without --yes, say what would happen (exit 1)',
    positionals: [1, 1],
    options: { yes: { type: 'boolean', help: 'do it' } },
    run: restore,
  },
  {
    words: ['backup', 'prune'],
    summary: 'Delete backups past retention (backup.retention)',
    options: { 'dry-run': { type: 'boolean', help: 'list what would be deleted, delete nothing' } },
    request: (v) => ({ cmd: 'backup.prune', args: { dryRun: v['dry-run'] === true } }),
    waits: () => true,
    render: renderPrune,
  },
  {
    words: ['restore-point', 'create'],
    summary: 'Take a named, described full backup to come back to',
    options: {
      description: { type: 'string', arg: 'D', help: 'what this point is (required)' },
      name: { type: 'string', arg: 'N', help: 'a name to restore it by (default: rp-<time>)' },
    },
    request(v) {
      const description = stringOption(v, 'description');
      if (!description) throw usageError('restore-point create needs --description D');
      return {
        cmd: 'restore-point.create',
        args: defined({ description, name: stringOption(v, 'name') }),
      };
    },
    waits: () => true,
    render: renderCreated,
  },
  {
    words: ['restore-point', 'ls'],
    summary: 'List restore points, oldest first',
    request: () => ({ cmd: 'restore-point.ls', args: {} }),
    render: (r) =>
      backupTable((r as { restorePoints: BackupRow[] }).restorePoints, 'no restore points'),
  },
  {
    words: ['restore-point', 'show'],
    args: 'ID',
    summary: 'One restore point (by id or name); restore it with hive backup restore ID',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'restore-point.show', args: { id: p[0] } }),
    render: renderManifest,
  },
  {
    words: ['recovery', 'status'],
    summary: 'Last start (clean or crash), state files, repairs, backups, schedule, problems',
    request: () => ({ cmd: 'recovery.status', args: {} }),
    render: renderRecovery,
  },
];
