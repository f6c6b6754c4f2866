/**
 * Every metric hived exports, in one list: the exposition, the alert rules
 * (a rule names one of these), the name lint and ops/prometheus all go by
 * it. Conventions (https://prometheus.io/docs/practices/naming/): `hive_`
 * prefix, base units (`_seconds`, `_bytes`), `_total` on counters only,
 * ratios 0–1, and labels with small bounded value sets. Bot metrics carry
 * `bot` (the slot name, `echo-0`: bounded by the configured instances and
 * stable across restarts, like a StatefulSet pod name), never a pid.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
}

const def = (
  name: string,
  type: MetricType,
  help: string,
  labels: readonly string[] = [],
): MetricDef => ({ name, type, help, labels });

export const METRICS = [
  def('hive_build_info', 'gauge', 'Always 1; the version of hived and its Node', [
    'version',
    'node',
  ]),
  def('hive_tasks_submitted_total', 'counter', 'Tasks accepted (persisted), by type', ['type']),
  def(
    'hive_tasks_finished_total',
    'counter',
    'Tasks that reached a final state, by type and outcome (done, failed, dead, cancelled)',
    ['type', 'outcome'],
  ),
  def(
    'hive_task_attempts_total',
    'counter',
    'Attempts that ended, by type and outcome (done, error, timeout, crash, requeued)',
    ['type', 'outcome'],
  ),
  def(
    'hive_task_run_duration_seconds',
    'histogram',
    'Time from the lease of an attempt to its end, by type and outcome',
    ['type', 'outcome'],
  ),
  def(
    'hive_task_wait_duration_seconds',
    'histogram',
    'Time a task waited in the queue before its lease, by type',
    ['type'],
  ),
  def('hive_tasks_shed_total', 'counter', 'Submissions refused in DEGRADED to shed load', ['type']),
  def('hive_tasks_rerouted_total', 'counter', 'Leases given to a fallback kind, by kinds', [
    'from_kind',
    'to_kind',
  ]),
  def('hive_queue_tasks', 'gauge', 'Tasks the queue holds, by state', ['state']),
  def('hive_queue_depth', 'gauge', 'Queued tasks per bot kind', ['kind']),
  def(
    'hive_queue_oldest_age_seconds',
    'gauge',
    'How long the longest-waiting queued task of a kind has waited',
    ['kind'],
  ),
  def('hive_messages', 'gauge', 'Bot-to-bot messages the store holds, by state', ['state']),
  def('hive_messages_sent_total', 'counter', 'Bot-to-bot messages accepted (persisted)'),
  def(
    'hive_messages_delivery_failures_total',
    'counter',
    'Deliveries that ended without an ack and were retried, by outcome (nack, timeout, crash)',
    ['outcome'],
  ),
  def(
    'hive_messages_dead_total',
    'counter',
    'Messages dead-lettered, by reason (rejected, expired, maxlen, delivery_limit)',
    ['reason'],
  ),
  def('hive_bots', 'gauge', 'Bots by kind and state', ['kind', 'state']),
  def(
    'hive_bot_restarts_total',
    'counter',
    'Restarts of bots that exited on their own (crash, limit, missed heartbeats), by kind',
    ['kind'],
  ),
  def('hive_bot_resident_memory_bytes', 'gauge', 'RSS of each running bot', ['kind', 'bot']),
  def(
    'hive_bot_cpu_seconds_total',
    'counter',
    'CPU time of the current process of each bot (restarts at 0 with it)',
    ['kind', 'bot'],
  ),
  def(
    'hive_deploy_state',
    'gauge',
    "A bot kind's deployment: 1 for its current state (the last one's when none runs)",
    ['kind', 'state'],
  ),
  def(
    'hive_deploy_green_weight_ratio',
    'gauge',
    "Green's target share of dispatched tasks in the current step, 0-1",
    ['kind'],
  ),
  def(
    'hive_deploy_green_achieved_ratio',
    'gauge',
    "Green's achieved share of the tasks dispatched in the current step, 0-1",
    ['kind'],
  ),
  def('hive_deploy_actions_total', 'counter', 'Deployment actions and verdicts, by action', [
    'action',
  ]),
  def('hive_mode', 'gauge', 'The degradation mode: 1 for the current one, 0 for the others', [
    'mode',
  ]),
  def('hive_mode_manual', 'gauge', '1 while the mode is held by hand (hive mode set)'),
  def('hive_mode_transitions_total', 'counter', 'Mode changes, by from and to', ['from', 'to']),
  def(
    'hive_host_memory_pressure_ratio',
    'gauge',
    'Host memory pressure: PSI some avg10, or 1 - MemAvailable/MemTotal without PSI',
    ['source'],
  ),
  def(
    'hive_host_cpu_pressure_ratio',
    'gauge',
    'Host CPU pressure: PSI some avg10, or load / cores (capped at 1) without PSI',
    ['source'],
  ),
  def(
    'hive_event_loop_delay_p99_seconds',
    'gauge',
    "p99 of hived's event-loop delay over the last monitor interval",
  ),
  def('hive_state_disk_used_ratio', 'gauge', "Used share of the state folder's filesystem"),
  def('hive_state_disk_free_bytes', 'gauge', "Bytes available on the state folder's filesystem"),
  def('hive_monitor_samples_total', 'counter', 'Resource monitor samples taken'),
  def(
    'hive_monitor_sample_seconds_total',
    'counter',
    'Time spent taking resource monitor samples (its overhead)',
  ),
  def('hive_alerts', 'gauge', 'Alerts pending or firing, by rule, severity and state', [
    'alertname',
    'severity',
    'state',
  ]),
  def('hive_health_state', 'gauge', 'Overall health: 1 for the current state', ['state']),
  def('hive_audit_sink_up', 'gauge', '1 while the audit trail can be written'),
  def(
    'hive_audit_write_duration_seconds',
    'histogram',
    'Audit trail writes: one batch written and fdatasynced',
  ),
  def('hive_audit_write_errors_total', 'counter', 'Audit trail writes that failed'),
  def(
    'hive_store_write_duration_seconds',
    'histogram',
    'Task journal writes: one batch written and fdatasynced',
  ),
  def('hive_store_write_errors_total', 'counter', 'Task journal writes that failed'),
  def('hive_backup_age_seconds', 'gauge', 'Age of the newest full backup'),
  def(
    'hive_backup_overdue_seconds',
    'gauge',
    'How far the automatic backup is past due (0 when on time, nothing changed, or off)',
  ),
  def(
    'hive_config_last_load_success',
    'gauge',
    '1 when the last config load applied (0: rejected, the old config runs)',
  ),
] as const satisfies readonly MetricDef[];

export type MetricName = (typeof METRICS)[number]['name'];

export const METRIC_BY_NAME: ReadonlyMap<string, MetricDef> = new Map(
  METRICS.map((m) => [m.name, m]),
);

/**
 * Checks a metric name against the conventions above; returns the problems.
 * The test runs it on every family of a live scrape (prom-client's own
 * `process_` / `nodejs_` families follow the client library convention).
 */
export function lintMetricName(name: string, type: string): string[] {
  const problems: string[] = [];
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) problems.push('not snake_case');
  const own = name.startsWith('hive_');
  if (!own && !/^(process|nodejs)_/.test(name)) problems.push('no hive_ prefix');
  if (type === 'counter' && !name.endsWith('_total')) problems.push('counter without _total');
  if (type !== 'counter' && name.endsWith('_total')) problems.push('_total on a non-counter');
  if (/_(ms|milliseconds|kb|mb|percent)(_|$)/.test(name)) problems.push('not in base units');
  if (
    own &&
    /(^|_)(time|duration|latency|delay|age)(_|$)/.test(name) &&
    !/_seconds(_total)?$/.test(name)
  )
    problems.push('a time without _seconds');
  if (own && /(memory|size)/.test(name) && !/_(bytes|ratio)(_total)?$/.test(name))
    problems.push('a size without _bytes or _ratio');
  return problems;
}
