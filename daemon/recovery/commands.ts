import { z } from 'zod';
import { HiveError } from '../../protocol/errors.ts';
import { args, type CommandContext, type CommandRouter } from '../ipc/router.ts';
import { BACKUP_KINDS, type IndexEntry } from './manifest.ts';
import type { RecoveryService } from './recovery.ts';

/** One backup in lists: the manifest without its per-file detail. */
function backupView(entry: IndexEntry) {
  const { files, hived, format, ...rest } = entry;
  return { ...rest, files: files.length };
}

const progressOf = (ctx: CommandContext) => (message: string) => ctx.emit({ progress: message });
const id = z.string().min(1).max(200);

/** `hive backup …`, `hive restore-point …`, `hive recovery status`. */
export function registerRecoveryCommands(router: CommandRouter, recovery: RecoveryService): void {
  router.register({
    name: 'backup.create',
    summary: 'Take a backup of one state kind or of everything (full)',
    mutating: true,
    args: args({ kind: z.enum(BACKUP_KINDS).default('full'), tag: z.string().max(200).optional() }),
    async handler(a, ctx) {
      const entry = await recovery.create(
        {
          kind: a.kind,
          source: 'manual',
          ...(a.tag !== undefined ? { tag: a.tag } : {}),
          actor: ctx.actor,
        },
        progressOf(ctx),
      );
      return entry;
    },
  });

  router.register({
    name: 'backup.ls',
    summary: 'List backups, oldest first',
    mutating: false,
    args: args({ kind: z.enum(BACKUP_KINDS).optional() }),
    async handler(a) {
      await recovery.refreshIndex();
      return { backups: recovery.list(a.kind ? { kind: a.kind } : {}).map(backupView) };
    },
  });

  router.register({
    name: 'backup.show',
    summary: 'One backup: manifest, files with their SHA-256, last verification',
    mutating: false,
    args: args({ id }),
    async handler(a) {
      await recovery.refreshIndex();
      return recovery.get(a.id);
    },
  });

  router.register({
    name: 'backup.verify',
    summary: 'Check checksums and restore on trial into a scratch folder (one backup or all)',
    mutating: false,
    args: args({ id: id.optional(), all: z.boolean().default(false) }),
    async handler(a, ctx) {
      await recovery.refreshIndex();
      const ids = a.all || !a.id ? recovery.list().map((e) => e.id) : [recovery.get(a.id).id];
      const results = await recovery.verify(ids, ctx.actor, progressOf(ctx));
      return { ok: results.every((r) => r.ok), results };
    },
  });

  router.register({
    name: 'backup.restore-plan',
    summary: 'What a restore of this backup would do (changes nothing)',
    mutating: false,
    args: args({ id }),
    handler: (a) => recovery.planRestore(a.id),
  });

  router.register({
    name: 'backup.restore',
    summary:
      'Restore a backup or restore point (a full backup of the current state is taken first)',
    mutating: true,
    args: args({ id }),
    handler: (a, ctx) => recovery.restore(a.id, ctx.actor, progressOf(ctx)),
  });

  router.register({
    name: 'backup.prune',
    summary: 'Delete backups past retention (dryRun: only list them)',
    mutating: true,
    args: args({ dryRun: z.boolean().default(false) }),
    handler: (a, ctx) => recovery.prune({ dryRun: a.dryRun, actor: ctx.actor }),
  });

  router.register({
    name: 'restore-point.create',
    summary: 'Take a named, described full backup to come back to',
    mutating: true,
    args: args({
      description: z.string().min(1).max(1000),
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
        .optional(),
    }),
    async handler(a, ctx) {
      const name = a.name ?? `rp-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 18)}`;
      if (recovery.list({ restorePoints: true }).some((e) => e.restorePoint?.name === name)) {
        throw new HiveError('HIVE_IPC_BAD_ARGS', `a restore point named ${name} exists already`);
      }
      return recovery.create(
        {
          kind: 'full',
          source: 'restore-point',
          restorePoint: { name, description: a.description },
          actor: ctx.actor,
        },
        progressOf(ctx),
      );
    },
  });

  router.register({
    name: 'restore-point.ls',
    summary: 'List restore points, oldest first',
    mutating: false,
    args: args({}),
    async handler() {
      await recovery.refreshIndex();
      return { restorePoints: recovery.list({ restorePoints: true }).map(backupView) };
    },
  });

  router.register({
    name: 'restore-point.show',
    summary: 'One restore point (by id or name)',
    mutating: false,
    args: args({ id }),
    async handler(a) {
      await recovery.refreshIndex();
      const entry = recovery.get(a.id);
      if (!entry.restorePoint) {
        throw new HiveError(
          'HIVE_BACKUP_NOT_FOUND',
          `${entry.id} is a ${entry.kind} backup, not a restore point; see hive backup show`,
        );
      }
      return entry;
    },
  });

  router.register({
    name: 'recovery.status',
    summary: 'Last start (clean or crash), state files, repairs, backups, schedule, problems',
    mutating: false,
    args: args({}),
    handler: () => recovery.status(),
  });
}
