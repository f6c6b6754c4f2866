import { DEPLOY_STATES } from '../../protocol/deploy.ts';
import { HEALTH_STATES, MODES } from '../../protocol/health.ts';
import type { Audit } from '../audit/audit.ts';
import { BOT_STATES } from '../bots/bot.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { ConfigManager } from '../config/manager.ts';
import type { Clock } from '../core/clock.ts';
import { VERSION } from '../core/paths.ts';
import type { Degradation } from '../degradation/degradation.ts';
import type { Deployments } from '../deploy/deployments.ts';
import type { Health } from '../health/health.ts';
import { MESSAGE_STATES } from '../messenger/message.ts';
import type { MessageStore } from '../messenger/store.ts';
import type { RecoveryService } from '../recovery/recovery.ts';
import { TASK_STATES } from '../tasks/task.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import type { Exposition } from './exposition.ts';
import type { Series, Telemetry } from './telemetry.ts';

export interface TelemetrySources {
  queue: TaskQueue;
  messages: MessageStore;
  bots: BotSupervisor;
  degradation: Degradation;
  deployments: Deployments;
  health: Health;
  audit: Audit;
  recovery: RecoveryService;
  config: ConfigManager;
  clock: Clock;
}

const one = (value: number): Series[] => [{ labels: {}, value }];

/**
 * Feeds Telemetry from the parts: counters from their events (tasks,
 * restarts, mode changes, sheds, reroutes, monitor samples), gauges read
 * from them when a scrape or an alert evaluation asks. Returns the
 * unsubscribe function.
 */
export function collectTelemetry(
  telemetry: Telemetry,
  exposition: Exposition,
  s: TelemetrySources,
): () => void {
  const offs = [
    countTasks(telemetry, exposition, s.queue),
    countMessages(telemetry, s.messages),
    s.bots.on('restart', ({ bot, requested }) => {
      if (!requested) telemetry.inc('hive_bot_restarts_total', { kind: bot.kind });
    }),
    s.degradation.on('changed', ({ from, to }) =>
      telemetry.inc('hive_mode_transitions_total', { from, to }),
    ),
    s.deployments.on('action', ({ action }) =>
      telemetry.inc('hive_deploy_actions_total', { action }),
    ),
    s.degradation.on('shed', ({ type }) => telemetry.inc('hive_tasks_shed_total', { type })),
    s.degradation.on('sample', (sample) => {
      telemetry.inc('hive_monitor_samples_total');
      telemetry.inc('hive_monitor_sample_seconds_total', {}, sample.durationMs / 1000);
    }),
  ];
  provideGauges(telemetry, s);
  return () => {
    for (const off of offs) off();
  };
}

/** Submissions, final outcomes, attempts, run and wait times, reroutes: one listener. */
function countTasks(telemetry: Telemetry, exposition: Exposition, queue: TaskQueue): () => void {
  return queue.on('changed', ({ task, record }) => {
    const type = task.type;
    switch (record.t) {
      case 'submit':
        telemetry.inc('hive_tasks_submitted_total', { type });
        return;
      case 'lease':
        exposition.observe(
          'hive_task_wait_duration_seconds',
          Math.max(0, record.at - task.availableAt) / 1000,
          { type },
        );
        if (record.reroute)
          telemetry.inc('hive_tasks_rerouted_total', {
            from_kind: record.reroute.from,
            to_kind: record.reroute.to,
          });
        return;
      case 'done':
      case 'fail':
      case 'requeue': {
        const outcome =
          record.t === 'fail' ? record.outcome : record.t === 'done' ? 'done' : 'requeued';
        telemetry.inc('hive_task_attempts_total', { type, outcome });
        const attempt = task.history.findLast((a) => a.token === record.token);
        if (attempt?.endedAt !== undefined)
          exposition.observe(
            'hive_task_run_duration_seconds',
            (attempt.endedAt - attempt.startedAt) / 1000,
            { type, outcome },
          );
        if (record.t === 'done')
          telemetry.inc('hive_tasks_finished_total', { type, outcome: 'done' });
        else if (record.t === 'fail' && record.final)
          telemetry.inc('hive_tasks_finished_total', { type, outcome: record.final });
        return;
      }
      case 'cancel':
        telemetry.inc('hive_tasks_finished_total', { type, outcome: 'cancelled' });
        return;
      default:
        return;
    }
  });
}

/** Sends, failed deliveries and dead letters; acks and deliveries are counted by state instead. */
function countMessages(telemetry: Telemetry, messages: MessageStore): () => void {
  return messages.on('changed', ({ record }) => {
    if (record.t === 'send') telemetry.inc('hive_messages_sent_total');
    else if (record.t === 'retry')
      telemetry.inc('hive_messages_delivery_failures_total', { outcome: record.outcome });
    else if (record.t === 'dead')
      telemetry.inc('hive_messages_dead_total', { reason: record.reason });
  });
}

function provideGauges(telemetry: Telemetry, s: TelemetrySources): void {
  const last = () => s.degradation.monitor.last;
  const reading = (signal: string) => last()?.readings.find((r) => r.signal === signal);
  const host = (signal: string): Series[] => {
    const r = reading(signal);
    return r ? [{ labels: { source: r.source ?? 'unknown' }, value: r.value }] : [];
  };
  telemetry.provide('hive_build_info', () => [
    { labels: { version: VERSION, node: process.version }, value: 1 },
  ]);
  telemetry.provide('hive_queue_tasks', () =>
    TASK_STATES.map((state) => ({ labels: { state }, value: s.queue.counts()[state] })),
  );
  telemetry.provide('hive_deploy_state', () =>
    s.deployments.status().flatMap((d) =>
      DEPLOY_STATES.map((state) => ({
        labels: { kind: d.kind, state },
        value: d.state === state ? 1 : 0,
      })),
    ),
  );
  telemetry.provide('hive_deploy_green_weight_ratio', () =>
    s.deployments.status().map((d) => ({ labels: { kind: d.kind }, value: d.weight.target / 100 })),
  );
  telemetry.provide('hive_deploy_green_achieved_ratio', () =>
    s.deployments
      .status()
      .filter((d) => d.weight.achieved !== null)
      .map((d) => ({ labels: { kind: d.kind }, value: (d.weight.achieved ?? 0) / 100 })),
  );
  telemetry.provide('hive_messages', () => {
    const counts = s.messages.counts();
    return MESSAGE_STATES.map((state) => ({ labels: { state }, value: counts[state] }));
  });
  const perKind = (pick: (load: { queued: number; oldestAgeSeconds: number }) => number) => () => {
    const kinds = last()?.kinds;
    const names = new Set([...s.bots.kinds(), ...(kinds?.keys() ?? [])]);
    return [...names].map((kind) => {
      const load = kinds?.get(kind);
      return { labels: { kind }, value: load ? pick(load) : 0 };
    });
  };
  telemetry.provide(
    'hive_queue_depth',
    perKind((l) => l.queued),
  );
  telemetry.provide(
    'hive_queue_oldest_age_seconds',
    perKind((l) => l.oldestAgeSeconds),
  );
  telemetry.provide('hive_bots', () => {
    const counts = new Map<string, number>();
    for (const bot of s.bots.bots()) {
      const key = `${bot.kind}\u0000${bot.state}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return s.bots.kinds().flatMap((kind) =>
      BOT_STATES.map((state) => ({
        labels: { kind, state },
        value: counts.get(`${kind}\u0000${state}`) ?? 0,
      })),
    );
  });
  telemetry.provide('hive_bot_resident_memory_bytes', () =>
    s.bots.bots().flatMap((bot) => {
      const rss = bot.rssBytes ?? last()?.bots.get(bot.name)?.rssBytes;
      return bot.pid !== undefined && rss !== undefined
        ? [{ labels: { kind: bot.kind, bot: bot.name }, value: rss }]
        : [];
    }),
  );
  telemetry.provide('hive_bot_cpu_seconds_total', () =>
    [...(last()?.bots.values() ?? [])].map((u) => ({
      labels: { kind: u.kind, bot: u.name },
      value: u.cpuSeconds,
    })),
  );
  telemetry.provide('hive_mode', () =>
    MODES.map((mode) => ({ labels: { mode }, value: s.degradation.mode === mode ? 1 : 0 })),
  );
  telemetry.provide('hive_mode_manual', () => one(s.degradation.manual ? 1 : 0));
  telemetry.provide('hive_host_memory_pressure_ratio', () => host('memory'));
  telemetry.provide('hive_host_cpu_pressure_ratio', () => host('cpu'));
  telemetry.provide('hive_event_loop_delay_p99_seconds', () =>
    one(reading('eventLoop')?.value ?? 0),
  );
  telemetry.provide('hive_state_disk_used_ratio', () => {
    const r = reading('disk');
    return r ? one(r.value) : [];
  });
  telemetry.provide('hive_state_disk_free_bytes', () => {
    const free = last()?.diskFreeBytes;
    return free === undefined ? [] : one(free);
  });
  telemetry.provide('hive_alerts', () =>
    s.health.alerts().map((a) => ({
      labels: { alertname: a.name, severity: a.severity, state: a.state },
      value: 1,
    })),
  );
  telemetry.provide('hive_health_state', () => {
    const state = s.health.state;
    return HEALTH_STATES.map((name) => ({
      labels: { state: name },
      value: name === state ? 1 : 0,
    }));
  });
  telemetry.provide('hive_audit_sink_up', () => one(s.audit.writable ? 1 : 0));
  telemetry.provide('hive_backup_age_seconds', () => {
    const newest = s.recovery.list({ kind: 'full' }).at(-1);
    return newest ? one(Math.max(0, s.clock.now() - newest.createdAtMs) / 1000) : [];
  });
  telemetry.provide('hive_backup_overdue_seconds', () => one(s.recovery.overdueSeconds()));
  telemetry.provide('hive_config_last_load_success', () =>
    one(s.config.status().lastError === null ? 1 : 0),
  );
}
