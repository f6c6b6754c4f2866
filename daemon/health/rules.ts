import type { AlertSeverity } from '../../protocol/health.ts';
import type { Config } from '../config/schema.ts';
import { roundTo } from '../core/values.ts';
import type { MetricName } from '../metrics/catalogue.ts';
import type { Labels } from '../metrics/telemetry.ts';

export type Op = '>' | '>=' | '<' | '<=' | '==' | '!=';

/** One alert rule, built-in or from `health.custom`, resolved. */
export interface Rule {
  name: string;
  metric: string;
  labels: Labels;
  op: Op;
  threshold: number;
  /** Set: compare the counter's increase over this window. */
  windowMs?: number;
  forMs: number;
  keepFiringForMs: number;
  severity: AlertSeverity;
  /** Component name; `{label}` takes a label value of the series. */
  component: string;
  group: string;
  /** `{label}`, `{value}`, `{threshold}` and `{window}` are filled in. */
  summary: string;
}

type HealthConfig = Config['health'];
type BuiltinName = keyof HealthConfig['rules'];

/** What a built-in rule watches; its tunables (threshold, for...) come from health.rules. */
const BUILTIN: Record<
  BuiltinName,
  { metric: MetricName; labels?: Labels; op: Op; component: string; summary: string }
> = {
  botCrashLoop: {
    metric: 'hive_bot_restarts_total',
    op: '>=',
    component: 'bots:{kind}',
    summary: 'bots of {kind} restarted {value} times within {window} (crash loop?)',
  },
  botFailed: {
    metric: 'hive_bots',
    labels: { state: 'failed' },
    op: '>',
    component: 'bots:{kind}',
    summary: '{value} bots of {kind} given up after a crash loop; fix, then hive bots restart',
  },
  queueAge: {
    metric: 'hive_queue_oldest_age_seconds',
    op: '>',
    component: 'queue',
    summary: 'the oldest queued task of {kind} has waited {value} s (over {threshold} s)',
  },
  deadLetters: {
    metric: 'hive_tasks_finished_total',
    labels: { outcome: 'dead' },
    op: '>=',
    component: 'queue',
    summary: '{value} {type} tasks dead-lettered within {window}',
  },
  memory: {
    metric: 'hive_host_memory_pressure_ratio',
    op: '>=',
    component: 'daemon',
    summary: 'host memory pressure {value} ({source}) at or past {threshold}',
  },
  eventLoop: {
    metric: 'hive_event_loop_delay_p99_seconds',
    op: '>',
    component: 'daemon',
    summary: "hived's event loop lags: p99 {value} s",
  },
  auditSink: {
    metric: 'hive_audit_sink_up',
    op: '<',
    component: 'audit',
    summary: 'the audit trail cannot be written (hive status says why)',
  },
  backupOverdue: {
    metric: 'hive_backup_overdue_seconds',
    op: '>',
    component: 'store',
    summary: 'the automatic backup is {value} s past due (hive recovery status)',
  },
  disk: {
    metric: 'hive_state_disk_used_ratio',
    op: '>',
    component: 'disk',
    summary: "the state folder's filesystem is {value} full",
  },
  configRejected: {
    metric: 'hive_config_last_load_success',
    op: '<',
    component: 'config',
    summary: 'the last config load was rejected; the old config runs (hive config status)',
  },
  storeWrites: {
    metric: 'hive_store_write_errors_total',
    op: '>',
    component: 'store',
    summary: '{value} task journal writes failed within {window} (disk full?)',
  },
};

/** Every enabled rule of a config: the built-ins with their tunables, then the custom ones. */
export function resolveRules(config: HealthConfig): Rule[] {
  const rules: Rule[] = [];
  for (const [name, tunables] of Object.entries(config.rules) as [
    BuiltinName,
    HealthConfig['rules'][BuiltinName],
  ][]) {
    if (!tunables.enabled) continue;
    const fixed = BUILTIN[name];
    rules.push({
      name,
      metric: fixed.metric,
      labels: fixed.labels ?? {},
      op: fixed.op,
      threshold: tunables.threshold,
      ...('windowMs' in tunables ? { windowMs: tunables.windowMs as number } : {}),
      forMs: tunables.forMs,
      keepFiringForMs: tunables.keepFiringForMs,
      severity: tunables.severity,
      component: fixed.component,
      group: tunables.group,
      summary: fixed.summary,
    });
  }
  for (const [name, rule] of Object.entries(config.custom)) {
    rules.push({
      name,
      metric: rule.metric,
      labels: rule.labels,
      op: rule.op,
      threshold: rule.threshold,
      ...(rule.windowMs !== undefined ? { windowMs: rule.windowMs } : {}),
      forMs: rule.forMs,
      keepFiringForMs: rule.keepFiringForMs,
      severity: rule.severity,
      component: rule.component,
      group: rule.group,
      summary: rule.summary ?? `${rule.metric} {value} ${rule.op} {threshold}`,
    });
  }
  return rules;
}

export function compare(value: number, op: Op, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

function humanWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/** Fills `{label}`, `{value}`, `{threshold}`, `{window}` in a template. */
export function fill(template: string, rule: Rule, labels: Labels, value: number): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    if (name === 'value') return String(roundTo(value));
    if (name === 'threshold') return String(rule.threshold);
    if (name === 'window') return rule.windowMs ? humanWindow(rule.windowMs) : 'now';
    return labels[name] ?? whole;
  });
}
