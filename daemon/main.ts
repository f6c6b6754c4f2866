/**
 * hived's composition root: builds the parts and wires them. No other
 * module knows about every part (daemon/cli.ts runs it, safe-mode.ts is the
 * reduced daemon for a state that did not load).
 */
import { dirname, join, resolve } from 'node:path';
import { HiveError } from '../protocol/errors.ts';
import { ActorVerifier } from './audit/actor.ts';
import { DAEMON_ACTOR } from './audit/audit.ts';
import { registerAuditCommands } from './audit/commands.ts';
import { auditInterceptor } from './audit/interceptor.ts';
import { createAudit } from './audit/setup.ts';
import {
  auditBots,
  auditConfig,
  auditDeployments,
  auditRecovery,
  auditTasks,
} from './audit/subscriptions.ts';
import { registerBotCommands } from './bots/commands.ts';
import { createSpawner, resolveSpecs } from './bots/spec.ts';
import { BotSupervisor, EMPTY_REGISTRY, type RegistryDoc } from './bots/supervisor.ts';
import { registerConfigCommands } from './config/commands.ts';
import { ConfigManager, readAtUse } from './config/manager.ts';
import { type ConfigSnapshot, configLocation, readSnapshot } from './config/sources.ts';
import { ensureDirectory } from './core/atomic-file.ts';
import { systemClock } from './core/clock.ts';
import { registerDaemonCommands } from './core/daemon-commands.ts';
import { PROJECT_ROOT, statePaths, VERSION } from './core/paths.ts';
import {
  type DaemonBase,
  type DaemonOptions,
  daemonInfo,
  mainConfigFile,
  type RunningDaemon,
  runSteps,
} from './daemon-base.ts';
import { mountDashboard } from './dashboard/dashboard.ts';
import { commandSource, deadMessagesSource } from './dashboard/sources.ts';
import { registerModeCommands } from './degradation/commands.ts';
import { Degradation, EMPTY_MODE_DOC, type ModeDoc } from './degradation/degradation.ts';
import { SystemSampler } from './degradation/sampler.ts';
import { registerDeployCommands } from './deploy/commands.ts';
import { Deployments } from './deploy/deployments.ts';
import { type DeployDoc, EMPTY_DEPLOY_DOC } from './deploy/record.ts';
import { registerHealthCommands } from './health/commands.ts';
import { ControlServer } from './ipc/control-server.ts';
import { CommandRouter } from './ipc/router.ts';
import { registerLogCommands } from './logs/commands.ts';
import { type Logger, LogHub } from './logs/log-hub.ts';
import { registerMessengerCommands } from './messenger/commands.ts';
import { createMessaging } from './messenger/setup.ts';
import { buildObservers, openMetrics } from './observers.ts';
import { BackupCatalog } from './recovery/catalog.ts';
import { registerRecoveryCommands } from './recovery/commands.ts';
import { StateInstaller } from './recovery/installer.ts';
import { pausePointsFromEnv } from './recovery/pause-points.ts';
import { RecoveryService } from './recovery/recovery.ts';
import { StartupRecovery } from './recovery/repair.ts';
import { EMPTY_META, type MetaDoc, ShutdownMarker } from './recovery/shutdown-marker.ts';
import { StateLock } from './recovery/state-lock.ts';
import { serveSafeMode } from './safe-mode.ts';
import { registerSchedulerCommands } from './scheduler/commands.ts';
import { createScheduling } from './scheduler/setup.ts';
import { JsonDocument } from './store/json-document.ts';
import { SupervisionLoop } from './supervision/loop.ts';
import { createNotifier } from './supervision/notify.ts';
import { registerTaskCommands } from './tasks/commands.ts';
import { Dispatcher } from './tasks/dispatcher.ts';
import { TaskQueue } from './tasks/task-queue.ts';
import { registerWebCommands } from './web/commands.ts';

/** A socket set in the config (relative to the config's folder) applies when no flag sets one. */
function socketFromConfig(options: DaemonOptions, snapshot: ConfigSnapshot): string | undefined {
  if (options.socket) return options.socket;
  const configured = snapshot.config.daemon.socket;
  return configured ? resolve(snapshot.baseDir, configured) : undefined;
}

/** Paths, config, lock, logs: what every later stage stands on. */
async function prepareGround(options: DaemonOptions, env: NodeJS.ProcessEnv) {
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
  const configText = () => (initial.base === 'file' ? location.mainFile : 'embedded');
  return {
    explicit,
    location,
    paths,
    initial,
    config,
    compileCacheDir,
    specs,
    lock,
    clock,
    logs,
    log,
    notifier,
    configText,
  };
}
type Ground = Awaited<ReturnType<typeof prepareGround>>;

/**
 * Recovery first (an interrupted restore is completed and the backups are
 * known before any state file is read), then the documents, the shutdown
 * marker, the audit trail and the queue. No queue means safe mode.
 */
async function openState(ground: Ground, env: NodeJS.ProcessEnv) {
  const { paths, initial, config, clock, logs, location } = ground;
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
    { dbDir: paths.dbDir, stateDir: paths.stateDir, repairOnStart: config.backup.repairOnStart },
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
  const modeDoc = new JsonDocument<ModeDoc>(
    join(paths.dbDir, 'mode.json'),
    structuredClone(EMPTY_MODE_DOC),
  );
  await startup.loadDocument(modeDoc, {
    reset: () => structuredClone(EMPTY_MODE_DOC),
    describe: (m) =>
      m.manual ? `mode ${m.manual.mode} held by ${m.manual.actor}` : 'automatic mode',
  });
  const deployDoc = new JsonDocument<DeployDoc>(
    join(paths.dbDir, 'deployments.json'),
    structuredClone(EMPTY_DEPLOY_DOC),
  );
  await startup.loadDocument(deployDoc, {
    reset: () => structuredClone(EMPTY_DEPLOY_DOC),
    describe: (d) =>
      `${Object.keys(d.active).length} deployments under way, ${Object.keys(d.promoted).length} promoted kinds`,
  });
  const marker = new ShutdownMarker(paths.runDir, meta);
  const start = await marker.begin(startup.metaLost ? { metaLost: startup.metaLost } : {});
  const metrics = openMetrics(config, logs);
  const audit = createAudit(
    config,
    { defaultDir: paths.logsDir, baseDir: initial.baseDir, env },
    {
      clock,
      log: logs.part('audit'),
      fs: metrics.timedFs('hive_audit_write_duration_seconds', 'hive_audit_write_errors_total'),
    },
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
          new TaskQueue(paths.dbDir, {
            clock,
            compactAfterBytes: config.queue.compactAfterBytes,
            fs: metrics.timedFs(
              'hive_store_write_duration_seconds',
              'hive_store_write_errors_total',
            ),
          }),
        start,
      );
  // After a crash, say which state files loaded and how (design: recovery part).
  const report = start.lastStart === 'crash' ? recoveryLog.warn : recoveryLog.info;
  for (const file of startup.files) report(`${file.file}: ${file.status}: ${file.detail}`);
  const base: DaemonBase = { ...ground, start, marker, audit };
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
  return {
    base,
    recoveryLog,
    recoveryDeps,
    startup,
    registry,
    modeDoc,
    deployDoc,
    start,
    audit,
    queue,
    metrics,
  };
}
type State = Awaited<ReturnType<typeof openState>>;

export async function startDaemon(
  options: DaemonOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningDaemon> {
  const ground = await prepareGround(options, env);
  const state = await openState(ground, env);
  if (state.queue) return runDaemon(ground, state, state.queue);
  const { config } = ground;
  return serveSafeMode(state.base, {
    ipc: config.ipc,
    config: () => ({ config: ground.configText() }),
    recovery: (onRestored) =>
      new RecoveryService(
        { config: config.backup },
        { ...state.recoveryDeps, onSafeModeRestored: onRestored },
      ),
    reason: state.startup.safeMode?.reason ?? 'the state did not load',
    hint: state.startup.safeMode?.hint ?? '',
  });
}

/** The parts that run the work: config manager, bots, dispatcher, messenger, recovery service. */
async function buildParts(ground: Ground, state: State, queue: TaskQueue) {
  const { config, clock, logs, location, explicit, initial, compileCacheDir } = ground;
  const { audit, registry, recoveryLog, start } = state;
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
  const degradation = new Degradation(
    { config: config.degradation, stateDir: ground.paths.stateDir },
    {
      clock,
      log: logs.part('degradation'),
      bots,
      queue,
      sampler: new SystemSampler(),
      doc: state.modeDoc,
      defaultPriority: () => configManager.config.queue.defaultPriority,
    },
  );
  const scheduling = await createScheduling(config.scheduler, {
    path: join(ground.paths.dbDir, 'scheduler.json'),
    clock,
    log: logs.part('scheduler'),
    bots,
    taskType: (id) => queue.get(id)?.type,
  });
  const dispatcher = new Dispatcher({
    queue,
    bots,
    scheduler: scheduling,
    observer: scheduling,
    clock,
    log: taskLog,
    config: config.queue,
    routing: degradation.routing,
  });
  auditTasks(audit, queue);
  const taskEvents = taskEventLog(queue, taskLog);
  taskEvents(config.daemon.logTaskEvents);
  const requeued = await dispatcher.recoverLeases(
    start.lastStart === 'crash' ? 'daemon crashed; lease lost' : 'daemon restarted',
  );
  if (requeued > 0)
    recoveryLog.warn(`requeued ${requeued} tasks that were running when the last run ended`);
  const messaging = await createMessaging(config.messaging, {
    dbDir: ground.paths.dbDir,
    clock,
    logs,
    bots,
    audit,
    restartReason: start.lastStart === 'crash' ? 'daemon crashed' : 'daemon restarted',
    onOpened: (status) => state.startup.files.push(status),
    recoveryLog,
  });
  const recovery = new RecoveryService(
    { config: config.backup },
    { ...state.recoveryDeps, live: { queue, registry, bots, dispatcher } },
  );
  auditRecovery(audit, recovery);
  const deployments = new Deployments(config.deploy, {
    clock,
    log: logs.part('migration'),
    bots,
    doc: state.deployDoc,
    setPoolSelector: (selector) => scheduling.setPoolSelector(selector),
    requeueFrom: (names, reason) => dispatcher.requeueFrom(names, reason),
    configSpec: (kind) => {
      try {
        return bots.specsOf(configManager.current).get(kind)?.spec;
      } catch {
        return undefined;
      }
    },
    shiftPaused: () => degradation.pausedReason('deployShift'),
    beforePromote: (id) => recovery.beforePromote(id),
  });
  dispatcher.observe(deployments);
  auditDeployments(audit, deployments);
  const loop = new SupervisionLoop({
    clock,
    config: config.supervision,
    retention: config.queue.retention,
    bots,
    dispatcher,
    queue,
    notifier: ground.notifier,
    log: ground.log,
    statusPrefix: () => degradation.statusText(),
  });
  const observers = buildObservers(
    { ...ground, audit: state.audit, metrics: state.metrics },
    queue,
    {
      configManager,
      bots,
      dispatcher,
      recovery,
      degradation,
      deployments,
      messages: messaging.messages,
    },
  );
  return {
    configManager,
    bots,
    dispatcher,
    recovery,
    loop,
    taskEvents,
    degradation,
    scheduling,
    deployments,
    ...messaging,
    ...observers,
  };
}
type Parts = Awaited<ReturnType<typeof buildParts>>;

/** daemon.logTaskEvents: a flag that takes effect at once (subscribe or not). */
function taskEventLog(queue: TaskQueue, taskLog: Logger): (on: boolean) => void {
  let unsubscribe: (() => void) | undefined;
  return (on) => {
    if (on && !unsubscribe) {
      unsubscribe = queue.on('changed', ({ task, from }) =>
        taskLog.event('task', {
          id: task.id,
          type: task.type,
          from,
          to: task.state,
          attempts: task.attempts,
        }),
      );
    } else if (!on && unsubscribe) {
      unsubscribe();
      unsubscribe = undefined;
    }
  };
}

/** The command router: interceptors outermost first, then every part's commands. */
function buildRouter(
  ground: Ground,
  state: State,
  queue: TaskQueue,
  parts: Parts,
  stopping: () => boolean,
) {
  const { clock, logs } = ground;
  const { audit } = state;
  const { configManager, bots, dispatcher, recovery } = parts;
  const router = new CommandRouter();
  // Outermost: a command refused by any later interceptor is still audited.
  router.use(auditInterceptor(audit, new ActorVerifier(clock), clock));
  // While stopping, nothing may change state (the queue is draining, bots are stopping).
  router.use(async (command, _args, _ctx, next) => {
    if (stopping() && command.mutating && command.name !== 'daemon.stop') {
      throw new HiveError(
        'HIVE_DAEMON_STOPPING',
        `hived is stopping; ${command.name} is refused; retry once it is back`,
      );
    }
    return next();
  });
  router.use(recovery.guard);
  router.use(parts.degradation.interceptor);
  registerTaskCommands(router, {
    queue,
    dispatcher,
    bots,
    config: () => configManager.config.queue,
    acceptingWork: () => !stopping(),
  });
  registerBotCommands(router, bots);
  registerLogCommands(router, logs);
  registerConfigCommands(router, configManager);
  registerRecoveryCommands(router, recovery);
  registerAuditCommands(router, { audit, clock });
  registerModeCommands(router, parts.degradation);
  registerHealthCommands(router, {
    health: parts.health,
    top: {
      degradation: parts.degradation,
      health: parts.health,
      bots,
      queue,
      startedAt: clock.now(),
      now: () => clock.now(),
    },
  });
  registerMessengerCommands(router, {
    messenger: parts.messenger,
    store: parts.messages,
    observer: parts.observer,
    kindOf: (bot) => bots.find(bot)?.kind,
  });
  registerSchedulerCommands(router, parts.scheduling);
  registerDeployCommands(router, parts.deployments);
  return router;
}

/** Each part applies its own slice of a new config; what no part claims needs a restart. */
function registerAppliers(
  ground: Ground,
  state: State,
  queue: TaskQueue,
  parts: Parts,
  server: ControlServer,
): void {
  const { configManager, dispatcher, loop, bots, recovery, taskEvents } = parts;
  // The degradation part after the bots: its commit reads the pools the new config made.
  for (const applier of [
    ground.logs,
    server,
    dispatcher,
    queue,
    loop,
    bots,
    recovery,
    state.audit,
    parts.degradation,
    parts.health,
    parts.web,
    parts.messenger,
    parts.scheduling,
    parts.deployments,
  ])
    configManager.register(applier);
  configManager.register(readAtUse('metrics', ['metrics.enabled']));
  auditConfig(state.audit, configManager);
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
      taskEvents(next.config.daemon.logTaskEvents);
      return undefined;
    },
  });
}

async function runDaemon(ground: Ground, state: State, queue: TaskQueue): Promise<RunningDaemon> {
  const { paths, clock, logs, log, notifier, lock, location, specs, config } = ground;
  const { audit, start, base } = state;
  const parts = await buildParts(ground, state, queue);
  const {
    configManager,
    bots,
    dispatcher,
    recovery,
    loop,
    degradation,
    health,
    web,
    messenger,
    messages,
    scheduling,
  } = parts;
  let stopping = false;
  const router = buildRouter(ground, state, queue, parts, () => stopping);
  registerWebCommands(router, { web, token: parts.webToken });
  const dashboard = config.http.dashboard
    ? mountDashboard(
        web,
        { dbDir: paths.dbDir, minGapMs: config.http.livePushMinGapMs },
        {
          router,
          parts: { bots, degradation, health, queue, recovery, audit },
          log: logs.part('web'),
        },
      )
    : undefined;
  dashboard?.add(
    commandSource(router, {
      name: 'deployments',
      cmd: 'deploy.status',
      subscribe: (poke) => parts.deployments.on('changed', poke),
    }),
  );
  dashboard?.add(deadMessagesSource(router, messages));
  const server = new ControlServer(
    { socketPath: paths.socket, runDir: paths.runDir, ...config.ipc },
    { router, log: logs.part('ipc') },
  );

  let resolveStopped!: (how: 'exit' | 'restart') => void;
  const stopped = new Promise<'exit' | 'restart'>((resolve) => {
    resolveStopped = resolve;
  });
  let stopPromise: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      log.info(`stopping: ${reason}`);
      audit.note({ action: 'daemon.stop', actor: DAEMON_ACTOR, reason });
      notifier.stopping(`stopping: ${reason}`);
      await runSteps(log, [
        ['stop config reloads', () => configManager.close()],
        // Deployments stay in their document and resume at the next start.
        ['stop deployment analyses', async () => parts.deployments.close()],
        [
          'stop http',
          () => {
            dashboard?.close();
            return web.close();
          },
        ],
        ['finish backup work', () => recovery.close()],
        [
          'drain tasks',
          async () =>
            log.info('drained', await dispatcher.drain(configManager.config.daemon.drainTimeoutMs)),
        ],
        ['stop supervision', async () => loop.stop()],
        // Bots finish the messages they hold and ack them while stopping: the store stays open.
        ['stop delivering messages', async () => messenger.close()],
        [
          'stop the resource monitor',
          async () => {
            degradation.close();
            health.close();
          },
        ],
        ['stop bots', () => bots.close()],
        ['close queue', () => queue.close({ compact: true })],
        ['close message store', () => messages.close({ compact: true })],
        ['save scheduler statistics', () => scheduling.close()],
        ['write shutdown marker', () => state.base.marker.writeClean(VERSION, reason)],
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

  const startedAt = clock.now();
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
        messages: { ...messages.counts(), inflight: messenger.inflight },
        scheduler: { policy: scheduling.policy },
        recovery: { mode: 'normal', lastBackup: r.lastBackup, problems: r.problems },
        audit: audit.status(),
        degradation: {
          mode: degradation.mode,
          manual: degradation.manual,
          reason: degradation.statusText(),
        },
        health: health.state,
        http: web.status,
        deployments: parts.deployments.status().filter((d) => d.finishedAt === undefined),
      };
    },
    stop: (reason) => void stop(reason),
  });
  registerAppliers(ground, state, queue, parts, server);

  bots.configure(specs);
  await parts.deployments.start();
  degradation.start();
  scheduling.restoreLimits();
  scheduling.start();
  loop.start();
  // Watching before the socket answers: a client that sees hived up may edit the config at once.
  await configManager.start();
  await server.listen();
  await web.start();
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
 * A restore failed past its commit point: the files on disk are the new
 * state, memory is the old one. Nothing may be written from memory (a
 * drain or a compaction would mix them), so hived exits at once; the next
 * start completes the restore.
 */
function abort(logs: LogHub, reason: string): void {
  logs.part('recovery').error(`stopping at once: ${reason}`);
  void logs.close().finally(() => process.exit(70));
}
