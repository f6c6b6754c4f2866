import type { BotExit } from '../bots/bot.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { ConfigChangeRecord, ConfigManager } from '../config/manager.ts';
import type { EventMap, TypedEmitter } from '../core/events.ts';
import type { Degradation } from '../degradation/degradation.ts';
import type { Deployments } from '../deploy/deployments.ts';
import type { Health } from '../health/health.ts';
import type { MessageStore } from '../messenger/store.ts';
import type { BackupSummary } from '../recovery/events.ts';
import type { RecoveryService } from '../recovery/recovery.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import {
  type Audit,
  type AuditActor,
  type AuditRecord,
  botActor,
  DAEMON_ACTOR,
  wireActor,
} from './audit.ts';

/**
 * Records an entry for each `event` that `build` turns into one (undefined:
 * not worth keeping). The way other parts' events reach the trail: main.ts
 * wires, e.g. `auditEvents(audit, config, 'applied', (c) => ({action:
 * 'config.applied', ...}))`. Returns the unsubscribe function.
 */
export function auditEvents<E extends EventMap, K extends keyof E>(
  audit: Audit,
  emitter: TypedEmitter<E>,
  event: K,
  build: (payload: E[K]) => AuditRecord | undefined,
): () => void {
  return emitter.on(event, (payload) => {
    const record = build(payload);
    if (record) audit.note(record);
  });
}

function exitRecord(exit: BotExit): AuditRecord {
  const { bot, reason } = exit;
  const details = {
    kind: bot.kind,
    code: exit.code,
    signal: exit.signal,
    upMs: exit.upMs,
    inflight: bot.inflight.size,
  };
  const target = bot.name;
  if (exit.requested) return { action: 'bot.stop', actor: DAEMON_ACTOR, target, reason, details };
  if (exit.cause === 'memory_limit')
    return { action: 'bot.memory_limit', actor: DAEMON_ACTOR, target, reason, details };
  if (exit.cause) {
    const cause = exit.cause;
    return {
      action: 'bot.kill',
      actor: DAEMON_ACTOR,
      target,
      reason,
      details: { ...details, cause },
    };
  }
  return { action: 'bot.crash', actor: botActor(bot.name), target, reason, details };
}

/** Bot lifecycle: start, ready, stop, crash, kill, memory limit, restart, failed. */
export function auditBots(audit: Audit, bots: BotSupervisor): () => void {
  const offs = [
    auditEvents(audit, bots, 'start', (bot) => ({
      action: 'bot.start',
      actor: DAEMON_ACTOR,
      target: bot.name,
      details: { kind: bot.kind, pid: bot.pid ?? null, restarts: bot.restarts },
    })),
    auditEvents(audit, bots, 'ready', (bot) => ({
      action: 'bot.ready',
      actor: botActor(bot.name),
      target: bot.name,
      details: {
        pid: bot.pid ?? null,
        version: bot.version ?? null,
        startMs: bot.readyAt - bot.startedAt,
      },
    })),
    auditEvents(audit, bots, 'exit', exitRecord),
    auditEvents(audit, bots, 'restart', ({ bot, delayMs, reason, requested }) => ({
      action: 'bot.restart',
      actor: DAEMON_ACTOR,
      target: bot.name,
      reason,
      details: { delayMs, requested, restarts: bot.restarts },
    })),
    auditEvents(audit, bots, 'failed', ({ bot, reason }) => ({
      action: 'bot.failed',
      actor: DAEMON_ACTOR,
      target: bot.name,
      reason,
      details: { kind: bot.kind, restarts: bot.restarts },
    })),
  ];
  return () => {
    for (const off of offs) off();
  };
}

function byActor(by: string | undefined): AuditActor {
  return by === undefined ? DAEMON_ACTOR : { name: by, type: 'user' };
}

/**
 * Task changes worth keeping: dead letters, cancels, manual retries. The
 * queue emits every transition (thousands a second); the routine ones cost
 * one comparison here and build nothing.
 */
export function auditTasks(audit: Audit, queue: TaskQueue): () => void {
  return auditEvents(audit, queue, 'changed', ({ task, record }) => {
    switch (record.t) {
      case 'fail':
        if (record.final !== 'dead') return undefined;
        return {
          action: 'task.dead_letter',
          actor: DAEMON_ACTOR,
          target: task.id,
          reason: record.error.message,
          details: { type: task.type, attempts: task.attempts, error: record.error.reason },
        };
      case 'cancel':
        return {
          action: 'task.cancel',
          actor: byActor(record.by),
          target: task.id,
          reason: record.reason,
          details: { type: task.type, attempts: task.attempts },
        };
      case 'retry':
        return {
          action: 'task.retry',
          actor: byActor(record.by),
          target: task.id,
          details: { type: task.type, lastError: task.error?.message ?? null },
        };
      default:
        return undefined;
    }
  });
}

function configRecord(record: ConfigChangeRecord): AuditRecord {
  const actor = wireActor(record.actor);
  // Keyed by config path (values already redacted by the config part): a field named `key`
  // would read as a secret to the trail's redaction.
  const changes = Object.fromEntries(record.diff.map((c) => [c.key, { old: c.old, new: c.new }]));
  const details = {
    trigger: record.trigger,
    files: record.files,
    checksum: record.checksum,
    changes,
    restartRequired: record.restartRequired.map((c) => c.key),
  };
  if (record.outcome === 'rejected') {
    return {
      action: 'config.rejected',
      actor,
      reason: record.error?.message ?? 'rejected',
      details: { ...details, code: record.error?.code ?? null },
    };
  }
  const reason = `${record.trigger}: ${record.diff.length} changes applied, ${record.restartRequired.length} waiting for a restart`;
  return { action: 'config.applied', actor, reason, details };
}

/** Config loads: each applied or rejected reload (file change, SIGHUP, hive config reload). */
export function auditConfig(audit: Audit, config: ConfigManager): () => void {
  const offs = [
    auditEvents(audit, config, 'applied', configRecord),
    auditEvents(audit, config, 'rejected', configRecord),
  ];
  return () => {
    for (const off of offs) off();
  };
}

function backupDetails(b: BackupSummary): Record<string, unknown> {
  return {
    kind: b.kind,
    source: b.source,
    tag: b.tag ?? null,
    restorePoint: b.restorePoint?.name ?? null,
    createdAt: b.createdAt,
    revision: b.revision,
    sizeBytes: b.sizeBytes,
    files: b.files.length,
  };
}

/** Backups and restores: created, pruned, verified, restore started and finished, repairs at start. */
export function auditRecovery(audit: Audit, recovery: RecoveryService): () => void {
  const offs = [
    auditEvents(audit, recovery, 'backup.created', (e) => ({
      action: 'backup.created',
      actor: wireActor(e.actor),
      target: e.backup.id,
      details: { ...backupDetails(e.backup), durationMs: e.durationMs },
    })),
    auditEvents(audit, recovery, 'backup.pruned', (e) => ({
      action: 'backup.pruned',
      actor: wireActor(e.actor),
      reason: `removed ${e.removed.length} backups, ${e.kept} kept`,
      details: { removed: e.removed, kept: e.kept },
    })),
    auditEvents(audit, recovery, 'backup.verified', (e) => ({
      action: 'backup.verified',
      severity: e.ok ? 'info' : 'critical',
      actor: wireActor(e.actor),
      target: e.backupId,
      reason: e.ok ? 'intact' : e.problems.join('; '),
      details: { ok: e.ok, bytes: e.bytes, problems: e.problems },
    })),
    auditEvents(audit, recovery, 'restore.started', (e) => ({
      action: 'backup.restore_started',
      actor: wireActor(e.actor),
      target: e.backup.id,
      reason: `restore ${e.restoreId} (${e.mode})`,
      details: {
        restoreId: e.restoreId,
        mode: e.mode,
        safetyBackupId: e.safetyBackupId ?? null,
        backup: backupDetails(e.backup),
      },
    })),
    auditEvents(audit, recovery, 'restore.finished', (e) => ({
      action: 'backup.restored',
      severity: e.ok ? 'warning' : 'critical',
      actor: wireActor(e.actor),
      target: e.backup.id,
      reason: e.ok ? `restore ${e.restoreId} finished` : (e.error?.message ?? 'failed'),
      ...(e.error ? { error: e.error.code } : {}),
      details: {
        restoreId: e.restoreId,
        ok: e.ok,
        durationMs: e.durationMs,
        safetyBackupId: e.safetyBackupId ?? null,
        parts: e.outcome?.parts ?? [],
        released: e.outcome?.released ?? 0,
      },
    })),
    auditEvents(audit, recovery, 'repair', (r) => ({
      action: 'state.repaired',
      actor: DAEMON_ACTOR,
      target: r.file,
      reason: `${r.problem}: ${r.action}`,
      details: {
        backupId: r.backupId ?? null,
        lost: r.lost ?? null,
        preservedIn: r.preservedIn ?? null,
      },
    })),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** Mode changes, with the signal behind an automatic one. */
export function auditDegradation(audit: Audit, degradation: Degradation): () => void {
  return auditEvents(audit, degradation, 'changed', (t) => ({
    action: 'mode.changed',
    ...(t.to === 'maintenance' && !t.manual ? { severity: 'critical' as const } : {}),
    actor: t.actor === DAEMON_ACTOR.name ? DAEMON_ACTOR : { name: t.actor, type: 'user' },
    target: t.to,
    reason: t.reason,
    details: {
      from: t.from,
      to: t.to,
      signal: t.signal,
      value: t.value,
      threshold: t.threshold,
      manual: t.manual,
    },
  }));
}

/** Health alerts that fire and resolve. */
export function auditHealth(audit: Audit, health: Health): () => void {
  return auditEvents(audit, health, 'alert', ({ type, alert }) => ({
    action: type === 'firing' ? 'alert.firing' : 'alert.resolved',
    ...(type === 'firing' && alert.severity === 'critical'
      ? { severity: 'critical' as const }
      : {}),
    actor: DAEMON_ACTOR,
    target: alert.name,
    reason: alert.summary,
    details: {
      labels: alert.labels,
      component: alert.component,
      severity: alert.severity,
      value: alert.value,
      threshold: alert.threshold,
      metric: alert.metric,
    },
  }));
}

/**
 * Messages worth keeping: dead letters (with why: a P0 evicted from a full
 * inbox is never lost without a record) and requeues by an operator. The
 * routine changes (thousands a second) build nothing.
 */
export function auditMessages(audit: Audit, store: MessageStore): () => void {
  return auditEvents(audit, store, 'changed', ({ message, record }) => {
    if (record.t === 'dead') {
      return {
        action: 'message.dead_letter',
        actor: DAEMON_ACTOR,
        target: message.id,
        reason: record.message,
        details: {
          reason: record.reason,
          priority: message.priority,
          from: message.from,
          to: message.to,
          address: message.address,
          deliveries: message.deliveries,
        },
      };
    }
    if (record.t === 'requeue') {
      return {
        action: 'message.requeue',
        actor: byActor(record.by),
        target: message.id,
        details: { address: message.address, priority: message.priority },
      };
    }
    return undefined;
  });
}

/** Deployments: every action and verdict, with its reason and the numbers behind it. */
export function auditDeployments(audit: Audit, deployments: Deployments): () => void {
  return auditEvents(audit, deployments, 'action', (a) => ({
    action: a.action,
    actor: a.actor === DAEMON_ACTOR.name ? DAEMON_ACTOR : { name: a.actor, type: 'user' },
    target: a.id,
    reason: a.reason,
    details: { kind: a.kind, ...a.details },
  }));
}
