/**
 * hived's composition root: reads flags, builds the parts, wires them and
 * handles signals. No other module knows about every part.
 */
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HiveError } from '../protocol/errors.ts';
import { ActorVerifier } from './audit/actor.ts';
import { type Audit, DAEMON_ACTOR } from './audit/audit.ts';
import { registerAuditCommands } from './audit/commands.ts';
import { auditInterceptor } from './audit/interceptor.ts';
import { createAudit } from './audit/setup.ts';
import { auditBots, auditConfig, auditRecovery, auditTasks } from './audit/subscriptions.ts';
import { registerBotCommands } from './bots/commands.ts';
import { createSpawner, resolveSpecs } from './bots/spec.ts';
import { BotSupervisor, EMPTY_REGISTRY, type RegistryDoc } from './bots/supervisor.ts';
import { checkConfig, checkLocation, renderCheck } from './config/check.ts';
import { registerConfigCommands } from './config/commands.ts';
import { ConfigManager, type ConfigTrigger, readAtUse } from './config/manager.ts';
import { type ConfigSnapshot, configLocation, readSnapshot } from './config/sources.ts';
import { ensureDirectory } from './core/atomic-file.ts';
import { systemClock } from './core/clock.ts';
import { registerDaemonCommands } from './core/daemon-commands.ts';
import { PROJECT_ROOT, type StatePaths, statePaths, VERSION } from './core/paths.ts';
import { ControlServer } from './ipc/control-server.ts';
import { CommandRouter } from './ipc/router.ts';
import { registerLogCommands } from './logs/commands.ts';
import { type Logger, LogHub } from './logs/log-hub.ts';
import { BackupCatalog } from './recovery/catalog.ts';
import { registerRecoveryCommands } from './recovery/commands.ts';
import { StateInstaller } from './recovery/installer.ts';
import { pausePointsFromEnv } from './recovery/pause-points.ts';
import { RecoveryService } from './recovery/recovery.ts';
import { StartupRecovery } from './recovery/repair.ts';
import {
  EMPTY_META,
  type MetaDoc,
  ShutdownMarker,
  type StartReport,
} from './recovery/shutdown-marker.ts';
import { StateLock } from './recovery/state-lock.ts';
import { LeastLoadedScheduler } from './scheduler/scheduler.ts';
import { JsonDocument } from './store/json-document.ts';
import { SupervisionLoop } from './supervision/loop.ts';
import { createNotifier, type ServiceNotifier } from './supervision/notify.ts';
import { registerTaskCommands } from './tasks/commands.ts';
import { Dispatcher } from './tasks/dispatcher.ts';
import { type Counts, TaskQueue } from './tasks/task-queue.ts';

export interface DaemonOptions {
  stateDir: string;
  configFile?: string;
  socket?: string;
}

export interface RunningDaemon {
  paths: StatePaths;
  start: StartReport;
  /** Reads the config files again and applies them (SIGHUP). */
  reloadConfig(trigger: ConfigTrigger): Promise<unknown>;
  /** Graceful stop; resolves when everything is closed. Idempotent. */
  stop(reason: string): Promise<void>;
  /** Resolves once stopped; `restart`: a restore ended safe mode, start again to load the state. */
  stopped: Promise<'exit' | 'restart'>;
}

const HELP = `hived ${VERSION}: the hive supervisor daemon (runs in the foreground)

Usage: hived [--state-dir DIR] [--config FILE] [--socket PATH]
       hived --check-config [FILE] [--state-dir DIR] [--config FILE] [--json]

  --state-dir DIR   state directory (env HIVE_STATE_DIR, default ./state)
  --config FILE     config file, YAML or JSON (env HIVE_CONFIG,
                    default <state>/config/hive.yaml, else the embedded default);
                    drop-ins: conf.d/*.yaml next to it, merged in name order
  --socket PATH     control socket (env HIVE_SOCKET, default <state>/run/hived.sock)
  --check-config    validate the config (or FILE: a main file, or a drop-in in a
                    conf.d folder) without starting; exit 0 valid, 1 invalid
  --json            with --check-config: print the result as JSON
  --version         print the version
  --help            this text

Signals: SIGTERM/SIGINT stop gracefully (drain, then exit 0); SIGHUP reloads
the config.`;

export type ParsedFlags =
  | { mode: 'run'; options: DaemonOptions }
  | { mode: 'check'; options: DaemonOptions; file?: string; json: boolean }
  | { mode: 'help' }
  | { mode: 'version' };

export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): ParsedFlags {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'state-dir': { type: 'string' },
      config: { type: 'string' },
      socket: { type: 'string' },
      'check-config': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { mode: 'help' };
  if (values.version) return { mode: 'version' };
  const options: DaemonOptions = { stateDir: values['state-dir'] ?? env.HIVE_STATE_DIR ?? 'state' };
  const configFile = values.config ?? env.HIVE_CONFIG;
  const socket = values.socket ?? env.HIVE_SOCKET;
  if (configFile) options.configFile = configFile;
  if (socket) options.socket = socket;
  if (values['check-config']) {
    if (positionals.length > 1) throw new Error('--check-config takes at most one FILE');
    const file = positionals[0];
    return { mode: 'check', options, json: values.json === true, ...(file ? { file } : {}) };
  }
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  return { mode: 'run', options };
}

/** The daemon's main config file: --config, or <state>/config/hive.yaml. */
function mainConfigFile(options: DaemonOptions): string {
  return resolve(options.configFile ?? statePaths(options.stateDir).configFile);
}

/** `hived --check-config`: the same reader and checks as a load, with no daemon. */
export async function runCheck(
  options: DaemonOptions,
  file: string | undefined,
): Promise<{ ok: boolean; text: string; json: string }> {
  const target = checkLocation(file, {
    mainFile: mainConfigFile(options),
    explicit: options.configFile !== undefined,
    projectRoot: PROJECT_ROOT,
  });
  const result = await checkConfig(target, (snapshot) =>
    resolveSpecs(snapshot.config, { baseDir: snapshot.baseDir }),
  );
  return { ok: result.ok, text: renderCheck(result), json: JSON.stringify(result) };
}

/** A socket set in the config (relative to the config's folder) applies when no flag sets one. */
function socketFromConfig(options: DaemonOptions, snapshot: ConfigSnapshot): string | undefined {
  if (options.socket) return options.socket;
  const configured = snapshot.config.daemon.socket;
  return configured ? resolve(snapshot.baseDir, configured) : undefined;
}

export async function startDaemon(
  options: DaemonOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningDaemon> {
  const explicit = options.configFile !== undefined;
  const location = configLocation(mainConfigFile(options), PROJECT_ROOT);
  let paths = statePaths(options.stateDir, options.socket);
  ensureDirectory(paths.stateDir);
  ensureDirectory(paths.runDir);
  ensureDirectory(paths.dbDir);
  ensureDirectory(paths.logsDir, 0o755);
  ensureDirectory(paths.cacheDir);
  // The watched folder must exist for a config file written later to be seen.
  if (!explicit) ensureDirectory(dirname(location.mainFile));

  const initial = await readSnapshot(location, { mainRequired: explicit });
  const config = initial.config;
  const compileCacheDir = join(paths.cacheDir, 'node-compile');
  const specs = resolveSpecs(config, { baseDir: initial.baseDir, compileCacheDir });
  paths = statePaths(options.stateDir, socketFromConfig(options, initial));
  const lock = await StateLock.acquire(paths.stateDir, paths.runDir, paths.socket, {
    probeTimeoutMs: config.daemon.lockProbeTimeoutMs,
  });

  const clock = systemClock;
  const logs = new LogHub({
    dir: paths.logsDir,
    level: config.daemon.logLevel,
    console: config.daemon.logConsole,
    tailMaxBytes: config.daemon.logTailMaxBytes,
    flushTimeoutMs: config.daemon.logFlushTimeoutMs,
  });
  const log = logs.part('daemon');
  const notifier = createNotifier(env, log);

  // Recovery comes first: an interrupted restore is completed, and the
  // backups are known, before any state file is read.
  const recoveryLog = logs.part('recovery');
  const pause = pausePointsFromEnv(env, recoveryLog);
  const catalog = new BackupCatalog(
    {
      dir: config.backup.dir ? resolve(initial.baseDir, config.backup.dir) : paths.backupsDir,
      version: VERSION,
    },
    { clock, log: recoveryLog, pause },
  );
  const installer = new StateInstaller(paths.dbDir, { pause });
  await openRecovery(catalog, installer, recoveryLog);
  const startup = new StartupRecovery(
    {
      dbDir: paths.dbDir,
      stateDir: paths.stateDir,
      repairOnStart: config.backup.repairOnStart,
    },
    { catalog, installer, log: recoveryLog, clock },
  );

  const meta = new JsonDocument<MetaDoc>(
    join(paths.dbDir, 'meta.json'),
    structuredClone(EMPTY_META),
  );
  const registry = new JsonDocument<RegistryDoc>(
    join(paths.dbDir, 'registry.json'),
    structuredClone(EMPTY_REGISTRY),
  );
  await startup.loadDocument(meta, {
    reset: () => structuredClone(EMPTY_META),
    describe: (m) => `run records (${m.runs} runs)`,
  });
  await startup.loadDocument(registry, {
    part: 'registry',
    reset: () => structuredClone(EMPTY_REGISTRY),
    describe: (r) =>
      `${Object.keys(r.bots).length} bot records, ${Object.keys(r.scale).length} scale overrides`,
  });
  const marker = new ShutdownMarker(paths.runDir, meta);
  const start = await marker.begin(startup.metaLost ? { metaLost: startup.metaLost } : {});
  const audit = createAudit(
    config,
    { defaultDir: paths.logsDir, baseDir: initial.baseDir, env },
    { clock, log: logs.part('audit') },
  );
  await audit.start();
  audit.note({
    action: 'daemon.start',
    severity: start.lastStart === 'crash' ? 'warning' : 'info',
    actor: DAEMON_ACTOR,
    reason: start.detail,
    details: {
      pid: process.pid,
      version: VERSION,
      lastStart: start.lastStart,
      config: initial.base === 'file' ? location.mainFile : 'embedded',
      safeMode: startup.safeMode?.reason ?? null,
    },
  });
  if (start.lastStart === 'crash') recoveryLog.warn(`crash detected: ${start.detail}`);
  else recoveryLog.info(`start after ${start.detail}`);

  const queue = startup.safeMode
    ? undefined
    : await startup.openQueue(
        () =>
          new TaskQueue(paths.dbDir, { clock, compactAfterBytes: config.queue.compactAfterBytes }),
        start,
      );
  // After a crash, say which state files loaded and how (design: recovery part).
  const report = start.lastStart === 'crash' ? recoveryLog.warn : recoveryLog.info;
  for (const file of startup.files) report(`${file.file}: ${file.status}: ${file.detail}`);
  const configText = () => ({
    config: initial.base === 'file' ? location.mainFile : 'embedded',
  });
  const base: DaemonBase = { paths, lock, clock, logs, log, notifier, start, marker, audit };
  const recoveryDeps = {
    clock,
    log: recoveryLog,
    catalog,
    installer,
    startup,
    start,
    scratchDir: join(paths.cacheDir, 'verify'),
    onFatal: (reason: string) => abort(logs, reason),
  };
  if (!queue) {
    return serveSafeMode(base, {
      ipc: config.ipc,
      config: configText,
      recovery: (onRestored) =>
        new RecoveryService(
          { config: config.backup },
          { ...recoveryDeps, onSafeModeRestored: onRestored },
        ),
      reason: startup.safeMode?.reason ?? 'the state did not load',
      hint: startup.safeMode?.hint ?? '',
    });
  }
  recoveryLog.info('queue loaded', { counts: queue.counts(), seq: queue.lastSeq });
  const configManager = new ConfigManager(location, { explicit }, initial, {
    clock,
    // Operator lines go to hived.log only: config-changes.jsonl holds one line per load.
    log: logs.part('config', { stream: false }),
    record: logs.part('config'),
  });

  const bots = new BotSupervisor({
    clock,
    log: logs.part('bots'),
    spawner: createSpawner(),
    registry,
    compileCacheDir,
  });
  auditBots(audit, bots);
  const reaped = bots.reapOrphans();
  if (reaped.length > 0)
    recoveryLog.warn(`killed bots left by the previous run: ${reaped.join(', ')}`);

  const taskLog = logs.part('tasks');
  const dispatcher = new Dispatcher({
    queue,
    bots,
    scheduler: new LeastLoadedScheduler(),
    clock,
    log: taskLog,
    config: config.queue,
  });
  auditTasks(audit, queue);
  // daemon.logTaskEvents: a flag that takes effect at once (subscribe or not).
  let stopTaskEvents: (() => void) | undefined;
  const logTaskEvents = (on: boolean) => {
    if (on && !stopTaskEvents) {
      stopTaskEvents = queue.on('changed', ({ task, from }) =>
        taskLog.event('task', {
          id: task.id,
          type: task.type,
          from,
          to: task.state,
          attempts: task.attempts,
        }),
      );
    } else if (!on && stopTaskEvents) {
      stopTaskEvents();
      stopTaskEvents = undefined;
    }
  };
  logTaskEvents(config.daemon.logTaskEvents);
  const requeued = await dispatcher.recoverLeases(
    start.lastStart === 'crash' ? 'daemon crashed; lease lost' : 'daemon restarted',
  );
  if (requeued > 0)
    recoveryLog.warn(`requeued ${requeued} tasks that were running when the last run ended`);
  const recovery = new RecoveryService(
    { config: config.backup },
    { ...recoveryDeps, live: { queue, registry, bots, dispatcher } },
  );
  auditRecovery(audit, recovery);

  let stopping = false;
  const router = new CommandRouter();
  // Outermost: a command refused by any later interceptor is still audited.
  router.use(auditInterceptor(audit, new ActorVerifier(clock), clock));
  // While stopping, nothing may change state (the queue is draining, bots are stopping).
  router.use(async (command, _args, _ctx, next) => {
    if (stopping && command.mutating && command.name !== 'daemon.stop') {
      throw new HiveError(
        'HIVE_DAEMON_STOPPING',
        `hived is stopping; ${command.name} is refused; retry once it is back`,
      );
    }
    return next();
  });
  router.use(recovery.guard);
  const startedAt = clock.now();
  registerTaskCommands(router, {
    queue,
    dispatcher,
    bots,
    config: () => configManager.config.queue,
    acceptingWork: () => !stopping,
  });
  registerBotCommands(router, bots);
  registerLogCommands(router, logs);
  registerConfigCommands(router, configManager);
  registerRecoveryCommands(router, recovery);
  registerAuditCommands(router, { audit, clock });

  const server = new ControlServer(
    { socketPath: paths.socket, runDir: paths.runDir, ...config.ipc },
    { router, log: logs.part('ipc') },
  );

  let resolveStopped!: (how: 'exit' | 'restart') => void;
  const stopped = new Promise<'exit' | 'restart'>((resolve) => {
    resolveStopped = resolve;
  });
  let stopPromise: Promise<void> | undefined;
  const loop = new SupervisionLoop({
    clock,
    config: config.supervision,
    retention: config.queue.retention,
    bots,
    dispatcher,
    queue,
    notifier,
    log,
  });

  const stop = (reason: string): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      log.info(`stopping: ${reason}`);
      audit.note({ action: 'daemon.stop', actor: DAEMON_ACTOR, reason });
      notifier.stopping(`stopping: ${reason}`);
      await runSteps(log, [
        ['stop config reloads', () => configManager.close()],
        ['finish backup work', () => recovery.close()],
        [
          'drain tasks',
          async () =>
            log.info('drained', await dispatcher.drain(configManager.config.daemon.drainTimeoutMs)),
        ],
        ['stop supervision', async () => loop.stop()],
        ['stop bots', () => bots.close()],
        ['close queue', () => queue.close({ compact: true })],
        ['write shutdown marker', () => marker.writeClean(VERSION, reason)],
        ['close socket', () => server.close()],
        ['close audit trail', () => audit.close()],
        ['release lock', async () => lock.release()],
      ]);
      log.info('stopped cleanly');
      await logs.close();
      resolveStopped('exit');
    })();
    return stopPromise;
  };

  registerDaemonCommands(router, {
    status: () => {
      const r = recovery.status() as { problems: string[]; lastBackup: unknown };
      return {
        daemon: {
          ...daemonInfo(base, startedAt, 'normal'),
          config: configManager.current.base === 'file' ? location.mainFile : 'embedded',
          configDropIns: configManager.current.files.filter((f) => f.role === 'drop-in').length,
          stopping,
        },
        bots: bots.bots(),
        queue: queue.counts(),
        recovery: { mode: 'normal', lastBackup: r.lastBackup, problems: r.problems },
        audit: audit.status(),
      };
    },
    stop: (reason) => void stop(reason),
  });

  // Each part applies its own slice of a new config; what no part claims needs a restart.
  for (const applier of [logs, server, dispatcher, queue, loop, bots, recovery, audit])
    configManager.register(applier);
  auditConfig(audit, configManager);
  configManager.register(
    readAtUse('tasks', [
      'queue.defaultPriority',
      'queue.defaultTimeoutMs',
      'queue.maxQueued',
      'queue.maxTaskTimeoutMs',
      'queue.maxTaskAttempts',
    ]),
  );
  configManager.register({
    configPart: 'daemon',
    configKeys: ['daemon.drainTimeoutMs', 'daemon.logTaskEvents'],
    prepareConfig: (next) => () => {
      logTaskEvents(next.config.daemon.logTaskEvents);
      return undefined;
    },
  });

  bots.configure(specs);
  loop.start();
  // Watching before the socket answers: a client that sees hived up may edit the config at once.
  await configManager.start();
  await server.listen();
  recovery.start();
  const ready = `listening on ${paths.socket}; ${specs.size} bot kinds`;
  notifier.ready(ready);
  log.info(`hived ${VERSION} ready (pid ${process.pid}, ${start.lastStart} start): ${ready}`);
  return {
    paths,
    start,
    stop,
    stopped,
    reloadConfig: (trigger) => configManager.reload(trigger),
  };
}

/** What both the normal and the safe-mode daemon are built on. */
interface DaemonBase {
  paths: StatePaths;
  lock: StateLock;
  clock: typeof systemClock;
  logs: LogHub;
  log: Logger;
  notifier: ServiceNotifier;
  start: StartReport;
  marker: ShutdownMarker;
  audit: Audit;
}

function daemonInfo(base: DaemonBase, startedAt: number, mode: 'normal' | 'safe') {
  return {
    pid: process.pid,
    version: VERSION,
    uptimeMs: base.clock.now() - startedAt,
    startedAt,
    lastStart: base.start.lastStart,
    lastStartDetail: base.start.detail,
    stateDir: base.paths.stateDir,
    socket: base.paths.socket,
    node: process.version,
    mode,
  };
}

/** Runs stop steps in order; one that fails is logged and the rest still run. */
async function runSteps(log: Logger, steps: [string, () => Promise<unknown>][]): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      log.error(`stop step "${name}" failed: ${String(error)}`);
    }
  }
}

async function openRecovery(
  catalog: BackupCatalog,
  installer: StateInstaller,
  log: Logger,
): Promise<void> {
  const pending = await installer.completePending();
  if (pending)
    log.warn(
      `completed "${pending.label}" (started ${pending.startedAt}), interrupted by the last stop: ${pending.completed.length > 0 ? `moved ${pending.completed.join(', ')} into place` : 'every file was already in place'}`,
    );
  const opened = await catalog.open();
  if (opened.rebuilt) log.warn(`backup index rebuilt from the backup folders: ${opened.rebuilt}`);
  if (opened.partialRemoved.length > 0)
    log.warn(`removed backups the last run left half-written: ${opened.partialRemoved.join(', ')}`);
  if (opened.unreadable.length > 0)
    log.error(`backup folders without a readable manifest: ${opened.unreadable.join(', ')}`);
}

/**
 * Safe mode: the state did not load and could not be repaired. The socket
 * answers (status, logs, backups, recovery) so the operator sees why and can
 * restore; no bot runs, nothing is dispatched and the config is not
 * watched. A restore repairs the state and this daemon then starts again
 * in-process to load it.
 */
async function serveSafeMode(
  base: DaemonBase,
  safe: {
    ipc: ConfigSnapshot['config']['ipc'];
    config: () => { config: string };
    recovery: (onRestored: () => void) => RecoveryService;
    reason: string;
    hint: string;
  },
): Promise<RunningDaemon> {
  const { paths, logs, log, notifier, lock, marker, clock, audit } = base;
  const explain = `hived is in safe mode: ${safe.reason}. ${safe.hint}`;
  let resolveStopped!: (how: 'exit' | 'restart') => void;
  const stopped = new Promise<'exit' | 'restart'>((resolve) => {
    resolveStopped = resolve;
  });
  let stopPromise: Promise<void> | undefined;
  const stop = (reason: string, how: 'exit' | 'restart' = 'exit'): Promise<void> => {
    stopPromise ??= (async () => {
      log.info(`stopping (safe mode): ${reason}`);
      audit.note({ action: 'daemon.stop', actor: DAEMON_ACTOR, reason });
      notifier.stopping(`stopping: ${reason}`);
      await runSteps(log, [
        ['finish backup work', () => recovery.close()],
        ['write shutdown marker', () => marker.writeClean(VERSION, reason)],
        ['close socket', () => server.close()],
        ['close audit trail', () => audit.close()],
        ['release lock', async () => lock.release()],
      ]);
      await logs.close();
      resolveStopped(how);
    })();
    return stopPromise;
  };
  const recovery = safe.recovery(() => void stop('a restore repaired the state', 'restart'));
  auditRecovery(audit, recovery);
  const refused = (name: string) =>
    new HiveError('HIVE_RECOVERY_SAFE_MODE', `${explain} (${name})`);
  const router = new CommandRouter({
    unknown: (name) => (/^(task|bots|config)\./.test(name) ? refused(name) : undefined),
  });
  router.use(auditInterceptor(audit, new ActorVerifier(clock), clock));
  router.use(recovery.guard);
  registerLogCommands(router, logs);
  registerRecoveryCommands(router, recovery);
  registerAuditCommands(router, { audit, clock });
  const startedAt = clock.now();
  const none: Counts = { queued: 0, running: 0, done: 0, failed: 0, dead: 0, cancelled: 0 };
  registerDaemonCommands(router, {
    status: () => ({
      daemon: { ...daemonInfo(base, startedAt, 'safe'), ...safe.config(), safeMode: explain },
      bots: [],
      queue: none,
      recovery: { mode: 'safe', problems: (recovery.status() as { problems: string[] }).problems },
      audit: audit.status(),
    }),
    stop: (reason) => void stop(reason),
  });
  const server = new ControlServer(
    { socketPath: paths.socket, runDir: paths.runDir, ...safe.ipc },
    { router, log: logs.part('ipc') },
  );
  await server.listen();
  recovery.start();
  notifier.ready(`SAFE MODE: ${safe.reason}`);
  log.error(`hived ${VERSION} started in SAFE MODE (pid ${process.pid}): ${explain}`);
  return {
    paths,
    start: base.start,
    stop,
    stopped,
    reloadConfig: async () => {
      throw refused('config reload');
    },
  };
}

/**
 * A restore failed past its commit point: the files on disk are the new
 * state, memory is the old one. Nothing may be written from memory (a
 * drain or a compaction would mix them), so hived exits at once; the next
 * start completes the restore.
 */
function abort(logs: LogHub, reason: string): void {
  logs.part('recovery').error(`stopping at once: ${reason}`);
  void logs.close().finally(() => process.exit(70));
}

/** Entry point of the `hived` command (called by daemon/hived.js after its Node version check). */
export async function runFromCommandLine(): Promise<void> {
  let flags: ParsedFlags;
  try {
    flags = parseFlags(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`hived: ${(error as Error).message}; see hived --help\n`);
    process.exit(1);
  }
  if (flags.mode === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (flags.mode === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (flags.mode === 'check') {
    const result = await runCheck(flags.options, flags.file);
    process.stdout.write(`${flags.json ? result.json : result.text}\n`);
    process.exit(result.ok ? 0 : 1);
  }
  const options = flags.options;
  let daemon: RunningDaemon | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    void daemon?.stop(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // `systemctl reload` sends SIGHUP (ExecReload=); the outcome goes to the log
  // and config-changes.jsonl like any other load.
  process.on('SIGHUP', () => {
    daemon?.reloadConfig('signal').catch(() => {});
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(
      `hived: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`,
    );
  });
  // A restore in safe mode ends with "restart": the same process loads the repaired state.
  for (;;) {
    try {
      daemon = await startDaemon(options);
    } catch (error) {
      const message =
        error instanceof HiveError
          ? `${error.message} [${error.code}]`
          : String((error as Error)?.stack ?? error);
      process.stderr.write(`hived: ${message}\n`);
      process.exit(1);
    }
    if ((await daemon.stopped) === 'exit') break;
  }
  process.exit(0);
}
