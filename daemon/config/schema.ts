import { z } from 'zod';
import { DeploySchema } from './schema-deploy.ts';
import { DegradationSchema, HealthSchema, HttpSchema, MetricsSchema } from './schema-health.ts';
import { KIND_NAME, ms, positive } from './schema-kit.ts';

/**
 * The one schema of every tunable. Defaults live here, so the daemon runs
 * with no config file at all; CONFIG.md is generated from these descriptions.
 */

export const RestartPolicySchema = z
  .strictObject({
    policy: z
      .enum(['always', 'on-failure', 'never'])
      .default('always')
      .describe(
        'always: restart on any exit; on-failure: only after a non-zero exit or a signal; never',
      ),
    initialDelayMs: ms('First restart delay; doubles (factor) with each consecutive crash', 100),
    maxDelayMs: ms('Upper bound of the restart delay', 10_000),
    factor: z
      .number()
      .min(1)
      .default(2)
      .describe('Growth of the delay between consecutive crashes'),
    maxRestarts: positive(
      'Crash-loop limit: restarts allowed within windowMs before the bot is marked failed',
      10,
    ),
    windowMs: positive('Window of the crash-loop limit', 60_000),
    resetAfterMs: positive(
      'A bot that stays up this long has its consecutive-crash count reset',
      30_000,
    ),
  })
  .prefault({});

export const BotKindSchema = z.strictObject({
  command: z
    .string()
    .min(1)
    .describe(
      "Executable or script; .js/.mjs/.cjs/.ts scripts run on the daemon's Node with an IPC channel",
    ),
  args: z.array(z.string()).default([]).describe('Arguments after the command'),
  env: z.record(z.string(), z.string()).default({}).describe('Extra environment variables'),
  cwd: z
    .string()
    .optional()
    .describe("Working directory (default: the config file's folder, or the project root)"),
  instances: z.number().int().min(0).default(1).describe('Number of bots of this kind'),
  taskTypes: z
    .array(z.string().min(1))
    .optional()
    .describe('Task types this kind handles (default: its own name)'),
  concurrency: positive('Tasks one bot runs at once', 1),
  memoryLimitMb: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'RSS above which a bot is restarted (checked every supervision.memoryCheckIntervalMs)',
    ),
  transport: z
    .enum(['auto', 'ipc', 'stdio'])
    .default('auto')
    .describe(
      'ipc: Node child-process channel; stdio: JSON lines on stdin/stdout; auto: ipc for Node scripts',
    ),
  startTimeoutMs: positive('Time a bot has to send ready', 10_000),
  stopTimeoutMs: positive(
    'On stop, time a bot has after the shutdown message (to finish its tasks and exit) before SIGTERM',
    3_000,
  ),
  killTimeoutMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('On stop, time between SIGTERM and SIGKILL (default: stopTimeoutMs)'),
  heartbeatIntervalMs: positive('How often the SDK sends a heartbeat', 1_000),
  heartbeatTimeoutMs: positive('Silence after which a bot is killed and replaced', 10_000),
  taskTimeoutMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Default task timeout for this kind (default: queue.defaultTimeoutMs)'),
  maxLineBytes: positive(
    'Longest line a bot may write on stdout or stderr; a longer one gets the bot replaced',
    4 * 1024 * 1024,
  ),
  restart: RestartPolicySchema,
  fallback: z
    .string()
    .regex(KIND_NAME)
    .optional()
    .describe(
      "Bot kind that takes this kind's tasks when this one has no healthy bot (crash loop, all failed, none running) or is shed in DEGRADED; its bots must handle these task types",
    ),
});

export const ConfigSchema = z.strictObject({
  daemon: z
    .strictObject({
      socket: z
        .string()
        .optional()
        .describe(
          'Control socket path (default: <state>/run/hived.sock; --socket and HIVE_SOCKET win over it); needs a restart',
        ),
      drainTimeoutMs: ms(
        'On stop, how long running tasks may finish before they are requeued',
        10_000,
      ),
      logLevel: z
        .enum(['error', 'warn', 'info', 'debug'])
        .default('info')
        .describe('Log level of stdout, hived.log and the part streams'),
      logConsole: z
        .enum(['text', 'json', 'off'])
        .default('text')
        .describe('Format of the log on stdout'),
      logTaskEvents: z
        .boolean()
        .default(true)
        .describe(
          'Write every task transition to tasks.jsonl (about a tenth of the CPU per task at full load)',
        ),
      logTailMaxBytes: positive(
        'Most bytes `hive logs` reads from the end of a log file',
        512 * 1024,
      ),
      logFlushTimeoutMs: positive(
        'On stop, how long buffered log lines may take to reach their files',
        3_000,
      ),
      lockProbeTimeoutMs: positive(
        'At start, how long to wait for an answer on an existing control socket before treating it as stale (read at start only)',
        500,
      ),
    })
    .prefault({}),
  ipc: z
    .strictObject({
      maxFrameBytes: positive('Largest frame accepted from a client', 1024 * 1024),
      maxPendingBytes: positive(
        'Output buffered for one client before it is disconnected as too slow',
        8 * 1024 * 1024,
      ),
      maxClients: positive('Concurrent client connections', 1024),
      frameTimeoutMs: positive('Time an incomplete frame may stay incomplete', 30_000),
      closeGraceMs: ms(
        'On stop, time open connections get to read their last answers before they are destroyed',
        200,
      ),
      closeTimeoutMs: ms('On stop, longest wait for the socket server to close', 1_000),
    })
    .prefault({}),
  queue: z
    .strictObject({
      defaultPriority: z
        .number()
        .int()
        .min(0)
        .max(9)
        .default(5)
        .describe('Priority of a task submitted without one (0 most urgent, 9 least)'),
      defaultTimeoutMs: positive(
        'Task timeout when neither the task nor its bot kind sets one',
        30_000,
      ),
      leaseGraceMs: ms('Extra time past a task timeout before its lease expires', 500),
      maxTaskTimeoutMs: positive('Largest timeout a submission may ask for', 86_400_000),
      maxTaskAttempts: positive('Most attempts a submission may ask for', 100),
      maxQueued: positive(
        'Unfinished tasks the queue holds before refusing submissions',
        1_000_000,
      ),
      retry: z
        .strictObject({
          maxAttempts: positive('Attempts before a task fails or is dead-lettered', 3),
          initialDelayMs: ms('Delay before the first retry', 200),
          factor: z.number().min(1).default(2).describe('Growth of the retry delay'),
          maxDelayMs: ms('Upper bound of the retry delay', 30_000),
          jitter: z
            .number()
            .min(0)
            .max(1)
            .default(0.2)
            .describe('Random share added to or taken from each delay'),
        })
        .prefault({}),
      retention: z
        .strictObject({
          maxFinished: z
            .number()
            .int()
            .min(0)
            .default(10_000)
            .describe('Finished tasks kept for `hive task get`'),
          maxAgeMs: ms('Finished tasks older than this are pruned', 3_600_000),
          pruneIntervalMs: positive('How often finished tasks are pruned', 5_000),
          pruneBatch: positive(
            'Most finished tasks one prune record removes (keeps each journal record small)',
            5_000,
          ),
        })
        .prefault({}),
      compactAfterBytes: positive(
        'Journal size after which the queue snapshot is rewritten',
        16 * 1024 * 1024,
      ),
    })
    .prefault({}),
  messaging: z
    .strictObject({
      defaultPriority: z
        .number()
        .int()
        .min(0)
        .max(3)
        .default(2)
        .describe('Priority of a message sent without one (0 most urgent, 3 least)'),
      defaultTtlMs: ms(
        'TTL of a message sent without one; past it a queued message is dead-lettered as expired (0: no TTL)',
        3_600_000,
      ),
      maxTtlMs: positive('Largest TTL a message may ask for', 7 * 86_400_000),
      maxBodyBytes: positive('Largest message body (as JSON)', 256 * 1024),
      maxDeliveries: z
        .number()
        .int()
        .min(0)
        .default(5)
        .describe(
          'Deliveries (first one included) before an unacknowledged message is dead-lettered as delivery_limit (0: unlimited)',
        ),
      retryBackoffMs: z
        .array(z.number().int().min(0))
        .min(1)
        .default([1_000, 5_000, 30_000])
        .describe(
          'Delay before each redelivery after a nack, a missed ack deadline or a crash: the first entry after the first delivery, and so on; the last repeats',
        ),
      ackTimeoutMs: positive(
        'Time a bot has to ack (or extend) a delivered message before it is redelivered',
        30_000,
      ),
      maxAckExtensionMs: positive(
        'Longest extension one extend message may ask for (from the time it arrives)',
        600_000,
      ),
      maxInflightPerBot: positive(
        'Delivered, not yet acknowledged messages one bot holds at once; the next one waits for a free slot',
        64,
      ),
      inboxMaxLen: positive(
        'Queued messages one inbox (a bot, or a bot kind) holds; beyond it the least urgent, oldest one is evicted (dead-lettered as maxlen)',
        10_000,
      ),
      minShare: z
        .strictObject({
          p1: z
            .number()
            .min(0)
            .max(0.5)
            .default(0.1)
            .describe(
              'Share of deliveries P1 is guaranteed while it waits behind more urgent messages',
            ),
          p2: z.number().min(0).max(0.5).default(0.05).describe('The same for P2'),
          p3: z.number().min(0).max(0.5).default(0.05).describe('The same for P3'),
        })
        .refine((s) => s.p1 + s.p2 + s.p3 <= 0.9, {
          message: 'p1 + p2 + p3 must be at most 0.9 (P0 needs a share too)',
        })
        .prefault({})
        .describe(
          "Minimum shares of an inbox's deliveries for backlogged lower priorities, so nothing starves; P0 takes the rest",
        ),
      logEvents: z
        .boolean()
        .default(true)
        .describe('Write every message state change to bot-messaging.jsonl'),
      retention: z
        .strictObject({
          maxFinished: z
            .number()
            .int()
            .min(0)
            .default(5_000)
            .describe(
              'Acknowledged messages kept for `hive msg get` (dead letters have their own limit)',
            ),
          maxAgeMs: ms('Acknowledged messages older than this are pruned', 600_000),
          maxDeadLetters: z
            .number()
            .int()
            .min(0)
            .default(10_000)
            .describe('Dead letters (dead and expired messages) kept for `hive msg dead`'),
          deadLetterMaxAgeMs: ms('Dead letters older than this are pruned', 7 * 86_400_000),
          pruneIntervalMs: positive('How often finished messages are pruned', 1_000),
          pruneBatch: positive('Most finished messages one prune record removes', 5_000),
        })
        .prefault({}),
      compactAfterBytes: positive(
        'Journal size after which the message store snapshot is rewritten (each rewrite competes with the journal for the disk: at 5,000 messages/s, 64 MiB is one every half minute)',
        64 * 1024 * 1024,
      ),
    })
    .prefault({}),
  scheduler: z
    .strictObject({
      policy: z
        .enum(['adaptive', 'round-robin', 'least-loaded'])
        .default('adaptive')
        .describe(
          'How a bot is chosen for a task: adaptive (power of two choices over latency, load and success), round-robin, or least-loaded',
        ),
      latencyHalfLifeMs: positive(
        'Half-life of the latency average: a sample this old weighs half as much as a new one',
        2_000,
      ),
      peakGain: z
        .number()
        .min(0)
        .max(1)
        .default(0.5)
        .describe(
          'Peak sensitivity: a sample above the average moves it at least this share of the way up at once',
        ),
      successHalfLifeMs: positive('Half-life of the success-rate average', 2_000),
      successFloor: z
        .number()
        .min(0.01)
        .max(1)
        .default(0.05)
        .describe(
          'Lowest success rate the cost divides by (cost = latency × (inflight + 1) ÷ max(success, floor))',
        ),
      explorationShare: z
        .number()
        .min(0)
        .max(0.5)
        .default(0.02)
        .describe(
          'Share of decisions that pick a random available bot, so a bot that lost its share is measured again',
        ),
      decisionLogShare: z
        .number()
        .min(0)
        .max(1)
        .default(0.01)
        .describe(
          'Share of routing decisions written to adaptive-scheduling.jsonl with their scores',
        ),
      persistIntervalMs: positive('How often the statistics are saved (also on stop)', 10_000),
      adaptiveConcurrency: z
        .strictObject({
          enabled: z
            .boolean()
            .default(true)
            .describe(
              "Adapt each bot's concurrency (adaptive policy only): additive increase on success under load, multiplicative decrease on failure or timeout, floor 1",
            ),
          increase: z
            .number()
            .min(0.01)
            .max(8)
            .default(1)
            .describe('Added to the limit per limit-many successes while the bot is at its limit'),
          decrease: z
            .number()
            .min(0.1)
            .max(0.95)
            .default(0.5)
            .describe('The limit is multiplied by this on a failure or timeout'),
        })
        .prefault({}),
    })
    .prefault({}),
  supervision: z
    .strictObject({
      memoryCheckIntervalMs: positive('How often bot RSS is read from /proc', 250),
      tickMs: positive('Supervision loop period (lease expiry, watchdog)', 100),
    })
    .prefault({}),
  audit: z
    .strictObject({
      dir: z
        .string()
        .optional()
        .describe(
          'Folder of the audit trail (default: <state>/logs); a filesystem of its own keeps a full state disk from stopping audit',
        ),
      failClosed: z
        .boolean()
        .default(true)
        .describe('Refuse mutating commands while the trail cannot be written'),
      readCommands: z
        .boolean()
        .default(true)
        .describe('Record read-only commands too (their answers do not wait for the write)'),
      // 5 s, not less: on a loaded machine one fdatasync can stall past a
      // second (seen at load 20 on 2 cores), and that is not a broken disk.
      writeTimeoutMs: positive(
        'A write (with its fdatasync) that takes longer counts as failed',
        5000,
      ),
      retryIntervalMs: positive('How often a trail that cannot be written is tried again', 1000),
      backlogMax: positive('Entries kept in memory while the trail cannot be written', 10_000),
      rotateBytes: positive('The live segment is rotated past this size', 64 * 1024 * 1024),
      rotateAfterMs: ms('A segment this old is rotated (0: never by age)', 86_400_000),
      keepSegments: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('Rotated segments kept; older ones are removed, leaving an anchor (0: all)'),
      maxAgeMs: ms('Rotated segments older than this are removed (0: kept forever)', 0),
      keyFile: z
        .string()
        .optional()
        .describe(
          'File holding the HMAC key (16 bytes or more, readable by hived only); without a key the chain shows changes but not a forger who recomputes it',
        ),
      keyEnv: z
        .string()
        .optional()
        .describe('Environment variable holding the HMAC key (when no keyFile is set)'),
      secretEnv: z
        .array(z.string().min(1))
        .default([])
        .describe(
          "Environment variables whose values never appear in the trail (hived's own and bot env entries of these names)",
        ),
      redactFields: z
        .array(z.string().min(1))
        .default([])
        .describe('Argument names whose values are stored as digests, besides secret-looking ones'),
    })
    .prefault({}),
  backup: z
    .strictObject({
      dir: z
        .string()
        .optional()
        .describe(
          'Backup folder (default: <state>/backups); another disk survives more; needs a restart',
        ),
      intervalMs: ms(
        'Automatic full backups this often, skipped when nothing changed; 0 turns them off',
        600_000,
      ),
      repairOnStart: z
        .boolean()
        .default(true)
        .describe(
          'At start, repair an unreadable or torn state file from the newest good backup; false: start in safe mode instead',
        ),
      retention: z
        .strictObject({
          maxAgeMs: ms(
            'Backups older than this are pruned unless keep-last or keep-daily holds them',
            7 * 86_400_000,
          ),
          maxPerKind: positive('At most this many backups of each kind are kept', 100),
          keepLast: z
            .number()
            .int()
            .min(0)
            .default(5)
            .describe('The newest N backups of each kind are kept whatever their age'),
          keepDaily: z
            .number()
            .int()
            .min(0)
            .default(7)
            .describe('The newest backup of each of the last N days that have one is kept'),
          restorePoints: positive('Restore points kept, newest first (they do not age out)', 20),
        })
        .prefault({}),
    })
    .prefault({}),
  degradation: DegradationSchema,
  deploy: DeploySchema,
  health: HealthSchema,
  http: HttpSchema,
  metrics: MetricsSchema,
  bots: z
    .record(z.string().regex(KIND_NAME), BotKindSchema)
    .default({})
    .describe('Bot kinds by name'),
  config: z
    .strictObject({
      watch: z
        .boolean()
        .default(true)
        .describe(
          'Reload when the config file or a drop-in changes (SIGHUP and `hive config reload` work either way)',
        ),
      debounceMs: z
        .number()
        .int()
        .min(50)
        .max(10_000)
        .default(50)
        .describe(
          'Quiet time after the last file event before a reload; at least 50 ms, the window in which chokidar folds repeated change events into one',
        ),
      redact: z
        .array(z.string().min(1))
        .default([])
        .describe(
          'More key names whose values are shown as <redacted> (bot env values and keys named like secrets, e.g. *token*, *password*, *Key, always are)',
        ),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type BotKindConfig = z.infer<typeof BotKindSchema>;
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** The embedded default: three sample bot kinds, so `npm start` runs something real. */
export const EMBEDDED_CONFIG: ConfigInput = {
  bots: {
    echo: {
      command: 'bots/echo.ts',
      instances: 2,
      concurrency: 8,
      memoryLimitMb: 256,
    },
    textstats: {
      command: 'bots/textstats.ts',
      instances: 2,
      concurrency: 4,
      memoryLimitMb: 256,
    },
    // The dashboard's chat panel talks to it (issue 10); set env HIVE_CHAT_LLM_URL for a local LLM.
    chat: {
      command: 'bots/chat.ts',
      instances: 1,
      concurrency: 4,
      memoryLimitMb: 256,
    },
  },
};
