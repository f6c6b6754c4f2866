/**
 * A stage of the composition root (main.ts): the parts that watch the rest
 * (telemetry, health, the HTTP server) and the wiring of the modes into
 * the dispatcher and the backup schedule. Kept apart so main.ts stays a
 * readable list of stages.
 */
import type { Audit } from './audit/audit.ts';
import { auditDegradation, auditHealth } from './audit/subscriptions.ts';
import type { BotSupervisor } from './bots/supervisor.ts';
import type { ConfigManager } from './config/manager.ts';
import type { Config } from './config/schema.ts';
import type { Clock } from './core/clock.ts';
import { realAppendFs } from './core/group-commit.ts';
import type { Degradation } from './degradation/degradation.ts';
import type { Deployments } from './deploy/deployments.ts';
import { Health } from './health/health.ts';
import type { LogHub } from './logs/log-hub.ts';
import type { MessageStore } from './messenger/store.ts';
import { Exposition, type HistogramName } from './metrics/exposition.ts';
import { metricsRoute } from './metrics/route.ts';
import { collectTelemetry } from './metrics/subscriptions.ts';
import { Telemetry } from './metrics/telemetry.ts';
import { timedAppendFs } from './metrics/timed-fs.ts';
import type { RecoveryService } from './recovery/recovery.ts';
import type { Dispatcher } from './tasks/dispatcher.ts';
import type { TaskQueue } from './tasks/task-queue.ts';
import { WebServer } from './web/server.ts';
import { loadOrCreateToken } from './web/token.ts';

export type Metrics = ReturnType<typeof openMetrics>;

export /**
 * Telemetry and its Prometheus exposition, first of all: the audit trail
 * and the journal write through timed file calls (write and fdatasync
 * latency, failures) from their first write.
 */
function openMetrics(config: Config, logs: LogHub) {
  const telemetry = new Telemetry();
  const log = logs.part('web');
  const exposition = new Exposition(
    telemetry,
    { processMetrics: config.metrics.processMetrics },
    (name, error) => log.error(`metric ${name} could not be read: ${String(error)}`),
  );
  const timedFs = (
    histogram: HistogramName,
    errors: 'hive_audit_write_errors_total' | 'hive_store_write_errors_total',
  ) =>
    timedAppendFs(realAppendFs, (outcome) =>
      outcome.ok ? exposition.observe(histogram, outcome.seconds) : telemetry.inc(errors),
    );
  return { telemetry, exposition, timedFs };
}

export /**
 * What watches the rest: mode effects outside the dispatch path (the pump
 * reruns, scheduled backups pause), health rules on every monitor sample,
 * telemetry, the HTTP server with /metrics (the dashboard mounts on it once
 * the router exists), and their audit entries.
 */
function buildObservers(
  base: {
    config: Config;
    clock: Clock;
    logs: LogHub;
    audit: Audit;
    metrics: Metrics;
    paths: { stateDir: string };
  },
  queue: TaskQueue,
  parts: {
    configManager: ConfigManager;
    bots: BotSupervisor;
    dispatcher: Dispatcher;
    recovery: RecoveryService;
    degradation: Degradation;
    deployments: Deployments;
    messages: MessageStore;
  },
) {
  const { config, clock, logs, audit, metrics } = base;
  const { configManager, bots, dispatcher, recovery, degradation, deployments, messages } = parts;
  const pauseBackups = () => recovery.pauseSchedule(degradation.pausedReason('backups'));
  degradation.on('changed', () => {
    dispatcher.schedulePump();
    pauseBackups();
  });
  // degradation.degraded.pause may change without a mode change.
  configManager.on('applied', pauseBackups);
  const healthLog = logs.part('health');
  const health = new Health(
    { config: config.health },
    {
      clock,
      log: healthLog,
      read: () =>
        metrics.telemetry.read((name, error) =>
          healthLog.error(`metric ${name} could not be read: ${String(error)}`),
        ),
      components: () => bots.kinds().map((kind) => `bots:${kind}`),
    },
  );
  degradation.on('sample', () => health.evaluate());
  collectTelemetry(metrics.telemetry, metrics.exposition, {
    queue,
    messages,
    deployments,
    bots,
    degradation,
    health,
    audit,
    recovery,
    config: configManager,
    clock,
  });
  auditDegradation(audit, degradation);
  auditHealth(audit, health);
  const webToken = loadOrCreateToken(base.paths.stateDir);
  const web = new WebServer(config.http, { log: logs.part('web'), token: webToken });
  web.route(
    '/metrics',
    metricsRoute(metrics.exposition, () => configManager.config.metrics.enabled),
  );
  return { health, web, webToken };
}
