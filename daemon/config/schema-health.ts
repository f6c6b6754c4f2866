import { z } from 'zod';
import { METRIC_BY_NAME } from '../metrics/catalogue.ts';
import { ms, positive, RULE_NAME } from './schema-kit.ts';

/**
 * The config of the degradation, health, http and metrics parts (issue 7).
 * Split from schema.ts by concern; ConfigSchema puts these sections in.
 */

type HardMode = 'degraded' | 'maintenance';

/** enterAt / exitAt / hardAt of one signal; `modes` are what a hard threshold may jump to. */
function signal(
  what: string,
  d: { enterAt: number; exitAt: number; hardAt?: number; trigger?: boolean },
  modes: readonly [HardMode, ...HardMode[]] = ['maintenance', 'degraded'],
) {
  const hardAt = z
    .number()
    .min(0)
    .describe('At or past this the mode changes at once, without waiting for more samples');
  return z
    .strictObject({
      trigger: z
        .boolean()
        .default(d.trigger ?? true)
        .describe(`${what}; false: sampled and shown, but it moves no mode`),
      enterAt: z
        .number()
        .min(0)
        .default(d.enterAt)
        .describe('At or past it for consecutiveSamples samples in a row: DEGRADED'),
      exitAt: z
        .number()
        .min(0)
        .default(d.exitAt)
        .describe('Below it for a whole transitionPeriodMs: the mode may step down'),
      hardAt: d.hardAt === undefined ? hardAt.optional() : hardAt.default(d.hardAt),
      hardMode: z.enum(modes).default(modes[0]).describe('The mode a hard threshold jumps to'),
    })
    .refine((t) => t.exitAt < t.enterAt, {
      message: 'exitAt must be below enterAt',
      path: ['exitAt'],
    })
    .refine((t) => t.hardAt === undefined || t.hardAt > t.enterAt, {
      message: 'hardAt must be above enterAt',
      path: ['hardAt'],
    })
    .prefault({});
}

export const OPTIONAL_WORK = ['scaleUp', 'backups', 'deployShift'] as const;

export const DegradationSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'Change the mode from the signals (false: signals are still sampled and shown; the mode is FULL unless set with hive mode set)',
      ),
    intervalMs: positive('How often every signal is sampled', 1000),
    consecutiveSamples: positive(
      'Samples in a row at or past enterAt before the mode escalates',
      3,
    ),
    transitionPeriodMs: ms(
      'Every signal must stay below its exitAt this long before the mode steps down',
      60_000,
    ),
    minDwellMs: ms('Least time in a mode before an automatic step down', 30_000),
    signals: z
      .strictObject({
        memory: signal(
          'Host memory (0–1): PSI some avg10 (share of time tasks stalled on memory) where /proc/pressure exists, else 1 − MemAvailable/MemTotal',
          { enterAt: 0.8, exitAt: 0.6, hardAt: 0.95 },
        ),
        cpu: signal(
          'Host CPU (0–1): PSI some avg10, else 1-minute load ÷ cores (capped at 1); off by default: busy bots keep the CPU busy by design, and the queue signals catch the work that waits',
          { enterAt: 0.95, exitAt: 0.8, trigger: false },
        ),
        eventLoop: signal("p99 of hived's event-loop delay over the last interval, in seconds", {
          enterAt: 1,
          exitAt: 0.2,
        }),
        disk: signal("Used share (0–1) of the state folder's filesystem, as df counts it", {
          enterAt: 0.9,
          exitAt: 0.85,
          hardAt: 0.98,
        }),
        queueDepth: signal(
          'Queued tasks of the busiest bot kind',
          { enterAt: 10_000, exitAt: 1_000 },
          ['degraded'],
        ),
        queueAge: signal(
          'Seconds the longest-waiting queued task of the busiest bot kind has waited',
          { enterAt: 300, exitAt: 60 },
          ['degraded'],
        ),
      })
      .prefault({}),
    degraded: z
      .strictObject({
        concurrencyFactor: z
          .number()
          .gt(0)
          .max(1)
          .default(0.5)
          .describe('In DEGRADED each bot runs this share of its concurrency (at least 1 task)'),
        shedFromPriority: z
          .number()
          .int()
          .min(0)
          .max(9)
          .default(7)
          .describe(
            'Submissions of this priority or less urgent (up to 9) may be shed in DEGRADED',
          ),
        shedMaxShare: z
          .number()
          .min(0)
          .max(1)
          .default(1)
          .describe(
            "Share of those shed at full pressure; it grows from 0 at a signal's exitAt to this at its hardAt (or enterAt + (enterAt − exitAt))",
          ),
        manualShedShare: z
          .number()
          .min(0)
          .max(1)
          .default(0.5)
          .describe('Share shed in a DEGRADED set by hand, whatever the signals say'),
        retryAfterMs: positive('The retry-after a shed submission is told', 5_000),
        fallback: z
          .boolean()
          .default(true)
          .describe('A kind being shed sends its tasks to its fallback kind too'),
        pause: z
          .array(z.enum(OPTIONAL_WORK))
          .default([...OPTIONAL_WORK])
          .describe(
            'Optional work paused in DEGRADED (and MAINTENANCE): scaleUp (hive bots scale up, unless --force), backups (the schedule), deployShift (deployment traffic shifts)',
          ),
      })
      .prefault({}),
    maintenance: z
      .strictObject({
        dispatchUrgent: z
          .boolean()
          .default(false)
          .describe('Still dispatch priority-0 tasks in MAINTENANCE (everything else waits)'),
      })
      .prefault({}),
    stuck: z
      .strictObject({
        afterMs: ms(
          'DEGRADED (or worse) this long without a break restarts the bot with the largest RSS; again after as long; 0: never',
          600_000,
        ),
        maxRestartsPerHour: z
          .number()
          .int()
          .min(0)
          .default(2)
          .describe('Most such restarts in any hour'),
        candidates: positive('Largest bots logged with each such restart', 3),
      })
      .prefault({}),
  })
  .prefault({});

const SEVERITY = z.enum(['warning', 'critical']);
const OP = z.enum(['>', '>=', '<', '<=', '==', '!=']);

/** The tunables of one built-in rule (its metric, labels and comparison are fixed). */
function builtin(
  what: string,
  d: {
    threshold: number;
    forMs: number;
    keepFiringForMs: number;
    severity: 'warning' | 'critical';
    windowMs?: number;
  },
) {
  const shape = {
    enabled: z.boolean().default(true).describe(what),
    threshold: z.number().default(d.threshold).describe('The value the metric is compared with'),
    forMs: ms('The condition must hold this long (pending) before the alert fires', d.forMs),
    keepFiringForMs: ms(
      'A firing alert stays firing this long after the condition last held',
      d.keepFiringForMs,
    ),
    severity: SEVERITY.default(d.severity).describe(
      'warning: component DEGRADED; critical: CRITICAL',
    ),
    group: z
      .string()
      .regex(RULE_NAME)
      .default('default')
      .describe('Rule group (its webhook, if any, gets the events)'),
  };
  const window =
    d.windowMs === undefined
      ? {}
      : {
          windowMs: positive(
            'The increase of the counter over this window is compared',
            d.windowMs,
          ),
        };
  return z.strictObject({ ...shape, ...window }).prefault({});
}

/** A counter or gauge of the catalogue (histograms have no one value to compare). */
const ruleMetric = z
  .string()
  .refine((name) => ['counter', 'gauge'].includes(METRIC_BY_NAME.get(name)?.type ?? ''), {
    message: 'not a hive_ counter or gauge (README lists them; see /metrics)',
  });

export const RuleSchema = z.strictObject({
  metric: ruleMetric.describe('A hive_ counter or gauge (see /metrics)'),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe('Only series with these label values'),
  op: OP.describe('Comparison of the value with the threshold'),
  threshold: z.number().describe('The value compared with'),
  windowMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Compare the counter's increase over this window instead of its value"),
  forMs: ms('The condition must hold this long (pending) before the alert fires', 60_000),
  keepFiringForMs: ms('A firing alert stays firing this long after the condition last held', 0),
  severity: SEVERITY.default('warning').describe('warning or critical'),
  component: z
    .string()
    .min(1)
    .default('custom')
    .describe('Component whose health it sets; {label} takes a label value, e.g. bots:{kind}'),
  group: z.string().regex(RULE_NAME).default('default').describe('Rule group'),
  summary: z.string().optional().describe('One line shown with the alert'),
});

export const WebhookSchema = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .describe('Receives a JSON POST per firing and resolved event'),
  headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers'),
  timeoutMs: positive('One attempt gives up after this long', 5_000),
  maxAttempts: positive('Attempts per event before it is dropped (logged)', 5),
  initialDelayMs: positive('Delay before the first retry; doubles each time', 1_000),
  maxDelayMs: positive('Upper bound of the retry delay', 60_000),
  queueMax: positive('Events waiting for this webhook before the oldest are dropped', 1_000),
});

export const HealthSchema = z
  .strictObject({
    rules: z
      .strictObject({
        botCrashLoop: builtin('Bots of a kind restarted that often within windowMs', {
          threshold: 3,
          forMs: 0,
          keepFiringForMs: 60_000,
          severity: 'warning',
          windowMs: 300_000,
        }),
        botFailed: builtin('A bot was given up after a crash loop (count of failed bots)', {
          threshold: 0,
          forMs: 0,
          keepFiringForMs: 0,
          severity: 'critical',
        }),
        queueAge: builtin('The oldest queued task of a kind has waited longer (seconds)', {
          threshold: 120,
          forMs: 60_000,
          keepFiringForMs: 60_000,
          severity: 'warning',
        }),
        deadLetters: builtin('Tasks of a type dead-lettered within windowMs', {
          threshold: 10,
          forMs: 0,
          keepFiringForMs: 300_000,
          severity: 'warning',
          windowMs: 600_000,
        }),
        memory: builtin('Host memory pressure (the degradation memory signal) at or past', {
          threshold: 0.9,
          forMs: 60_000,
          keepFiringForMs: 60_000,
          severity: 'critical',
        }),
        eventLoop: builtin("p99 of hived's event-loop delay (seconds) above", {
          threshold: 0.5,
          forMs: 60_000,
          keepFiringForMs: 60_000,
          severity: 'warning',
        }),
        auditSink: builtin('The audit trail cannot be written', {
          threshold: 1,
          forMs: 0,
          keepFiringForMs: 0,
          severity: 'critical',
        }),
        backupOverdue: builtin(
          'Seconds the automatic backup is past due (the state changed and no backup covers it)',
          { threshold: 600, forMs: 0, keepFiringForMs: 0, severity: 'warning' },
        ),
        disk: builtin("Used share of the state folder's filesystem above", {
          threshold: 0.9,
          forMs: 60_000,
          keepFiringForMs: 60_000,
          severity: 'warning',
        }),
        configRejected: builtin('The last config load was rejected (the old config runs)', {
          threshold: 1,
          forMs: 0,
          keepFiringForMs: 0,
          severity: 'warning',
        }),
        storeWrites: builtin('State (journal) writes that failed within windowMs', {
          threshold: 0,
          forMs: 0,
          keepFiringForMs: 300_000,
          severity: 'critical',
          windowMs: 300_000,
        }),
      })
      .prefault({}),
    custom: z
      .record(z.string().regex(RULE_NAME), RuleSchema)
      .default({})
      .describe('More alert rules by name'),
    webhooks: z
      .record(z.string().regex(RULE_NAME), WebhookSchema)
      .default({})
      .describe('A webhook per rule group'),
    resolvedKept: positive('Resolved alerts kept for hive alerts ls --all', 200),
  })
  .prefault({});

export const HttpSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve HTTP: /metrics and the web dashboard'),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe(
        'Address to listen on (loopback only by default; anywhere else every request needs the token `hive web token` prints)',
      ),
    port: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(8000)
      .describe('TCP port (0: any free port; hive status shows which)'),
    listenRetryMs: positive(
      'When the port is taken, try again this often (hived runs meanwhile)',
      10_000,
    ),
    dashboard: z
      .boolean()
      .default(true)
      .describe('Serve the web dashboard at / (off: /metrics only); read at start'),
    livePushMinGapMs: z
      .number()
      .int()
      .min(10)
      .max(10_000)
      .default(100)
      .describe(
        'The dashboard pushes each live view at most once per this many ms (bursts fold into one); read at start',
      ),
  })
  .prefault({});

export const MetricsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics'),
    processMetrics: z
      .boolean()
      .default(true)
      .describe("Include prom-client's process_* and nodejs_* metrics"),
  })
  .prefault({});
