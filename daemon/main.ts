/**
 * hived's composition root: reads flags, builds the parts, wires them and
 * handles signals. No other module knows about every part.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HiveError } from '../protocol/errors.ts';
import { ActorVerifier } from './audit/actor.ts';
import { DAEMON_ACTOR } from './audit/audit.ts';
import { registerAuditCommands } from './audit/commands.ts';
import { auditInterceptor } from './audit/interceptor.ts';
import { createAudit } from './audit/setup.ts';
import { auditBots, auditTasks } from './audit/subscriptions.ts';
import { registerBotCommands } from './bots/commands.ts';
import { type BotSpec, createSpawner, resolveSpec } from './bots/spec.ts';
import { BotSupervisor, EMPTY_REGISTRY, type RegistryDoc } from './bots/supervisor.ts';
import { embeddedConfig, type LoadedConfig, loadConfigFile } from './config/load.ts';
import { ensureDirectory } from './core/atomic-file.ts';
import { systemClock } from './core/clock.ts';
import { registerDaemonCommands } from './core/daemon-commands.ts';
import { PROJECT_ROOT, type StatePaths, statePaths, VERSION } from './core/paths.ts';
import { ControlServer } from './ipc/control-server.ts';
import { CommandRouter } from './ipc/router.ts';
import { registerLogCommands } from './logs/commands.ts';
import { LogHub } from './logs/log-hub.ts';
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
import { createNotifier } from './supervision/notify.ts';
import { registerTaskCommands } from './tasks/commands.ts';
import { Dispatcher } from './tasks/dispatcher.ts';
import { TaskQueue } from './tasks/task-queue.ts';

export interface DaemonOptions {
  stateDir: string;
  configFile?: string;
  socket?: string;
}

export interface RunningDaemon {
  paths: StatePaths;
  start: StartReport;
  /** Graceful stop; resolves when everything is closed. Idempotent. */
  stop(reason: string): Promise<void>;
  stopped: Promise<void>;
}

const HELP = `hived ${VERSION}: the hive supervisor daemon (runs in the foreground)

Usage: hived [--state-dir DIR] [--config FILE] [--socket PATH]

  --state-dir DIR   state directory (env HIVE_STATE_DIR, default ./state)
  --config FILE     config file, YAML or JSON (env HIVE_CONFIG,
                    default <state>/config/hive.yaml, else the embedded default)
  --socket PATH     control socket (env HIVE_SOCKET, default <state>/run/hived.sock)
  --version         print the version
  --help            this text

Signals: SIGTERM/SIGINT stop gracefully (drain, then exit 0).`;

export function parseFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
): DaemonOptions | 'help' | 'version' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'state-dir': { type: 'string' },
      config: { type: 'string' },
      socket: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (values.version) return 'version';
  const options: DaemonOptions = { stateDir: values['state-dir'] ?? env.HIVE_STATE_DIR ?? 'state' };
  const configFile = values.config ?? env.HIVE_CONFIG;
  const socket = values.socket ?? env.HIVE_SOCKET;
  if (configFile) options.configFile = configFile;
  if (socket) options.socket = socket;
  return options;
}

async function loadConfig(options: DaemonOptions, paths: StatePaths): Promise<LoadedConfig> {
  if (options.configFile) return loadConfigFile(options.configFile, join(options.configFile, '..'));
  if (existsSync(paths.configFile))
    return loadConfigFile(paths.configFile, join(paths.configFile, '..'));
  return embeddedConfig(PROJECT_ROOT);
}

function resolveSpecs(
  loaded: LoadedConfig,
  cacheDir: string,
): Map<string, { spec: BotSpec; instances: number }> {
  const specs = new Map<string, { spec: BotSpec; instances: number }>();
  for (const [kind, kindConfig] of Object.entries(loaded.config.bots)) {
    const spec = resolveSpec(kind, kindConfig, {
      baseDir: loaded.baseDir,
      defaultTaskTimeoutMs: loaded.config.queue.defaultTimeoutMs,
      compileCacheDir: cacheDir,
    });
    specs.set(kind, { spec, instances: kindConfig.instances });
  }
  return specs;
}

export async function startDaemon(
  options: DaemonOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningDaemon> {
  const paths = statePaths(options.stateDir, options.socket);
  ensureDirectory(paths.stateDir);
  ensureDirectory(paths.runDir);
  ensureDirectory(paths.dbDir);
  ensureDirectory(paths.logsDir, 0o755);
  ensureDirectory(paths.cacheDir);

  const loaded = await loadConfig(options, paths);
  const config = loaded.config;
  const specs = resolveSpecs(loaded, join(paths.cacheDir, 'node-compile'));
  const lock = await StateLock.acquire(paths.stateDir, paths.runDir, paths.socket);

  const clock = systemClock;
  const logs = new LogHub({
    dir: paths.logsDir,
    level: config.daemon.logLevel,
    console: config.daemon.logConsole,
  });
  const log = logs.part('daemon');
  const notifier = createNotifier(env, log);

  const meta = new JsonDocument<MetaDoc>(
    join(paths.dbDir, 'meta.json'),
    structuredClone(EMPTY_META),
  );
  const registry = new JsonDocument<RegistryDoc>(
    join(paths.dbDir, 'registry.json'),
    structuredClone(EMPTY_REGISTRY),
  );
  await meta.load();
  await registry.load();
  const marker = new ShutdownMarker(paths.runDir, meta);
  const start = await marker.begin();
  const audit = createAudit(
    config,
    { defaultDir: paths.logsDir, baseDir: loaded.baseDir, env },
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
      config: loaded.source,
    },
  });
  const recoveryLog = logs.part('recovery');
  if (start.lastStart === 'crash') recoveryLog.warn(`crash detected: ${start.detail}`);
  else recoveryLog.info(`start after ${start.detail}`);

  const queue = new TaskQueue(paths.dbDir, {
    clock,
    compactAfterBytes: config.queue.compactAfterBytes,
  });
  const opened = await queue.open();
  recoveryLog.info('queue loaded', { ...opened, counts: queue.counts() });
  if (opened.tornTailBytes > 0)
    recoveryLog.warn(
      `queue journal ended in a torn write of ${opened.tornTailBytes} bytes; cut off (it was never acknowledged)`,
    );
  if (opened.corruptLines.length > 0)
    recoveryLog.error('queue journal has corrupt lines; they were skipped', {
      corruptLines: opened.corruptLines,
    });

  const bots = new BotSupervisor({
    clock,
    log: logs.part('bots'),
    spawner: createSpawner(),
    registry,
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
  queue.on('changed', ({ task, from }) =>
    taskLog.event('task', {
      id: task.id,
      type: task.type,
      from,
      to: task.state,
      attempts: task.attempts,
    }),
  );
  const requeued = await dispatcher.recoverLeases(
    start.lastStart === 'crash' ? 'daemon crashed; lease lost' : 'daemon restarted',
  );
  if (requeued > 0)
    recoveryLog.warn(`requeued ${requeued} tasks that were running when the last run ended`);

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
  const startedAt = clock.now();
  registerTaskCommands(router, {
    queue,
    dispatcher,
    bots,
    config: () => config.queue,
    acceptingWork: () => !stopping,
  });
  registerBotCommands(router, bots);
  registerLogCommands(router, logs);
  registerAuditCommands(router, { audit, clock });

  const server = new ControlServer(
    { socketPath: paths.socket, runDir: paths.runDir, ...config.ipc },
    { router, log: logs.part('ipc') },
  );

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
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
      const steps: [string, () => Promise<unknown>][] = [
        [
          'drain tasks',
          async () => log.info('drained', await dispatcher.drain(config.daemon.drainTimeoutMs)),
        ],
        ['stop supervision', async () => loop.stop()],
        ['stop bots', () => bots.close()],
        ['close queue', () => queue.close({ compact: true })],
        ['write shutdown marker', () => marker.writeClean(VERSION, reason)],
        ['close socket', () => server.close()],
        ['close audit trail', () => audit.close()],
        ['release lock', async () => lock.release()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (error) {
          log.error(`stop step "${name}" failed: ${String(error)}`);
        }
      }
      log.info('stopped cleanly');
      await logs.close();
      resolveStopped();
    })();
    return stopPromise;
  };

  registerDaemonCommands(router, {
    status: () => ({
      daemon: {
        pid: process.pid,
        version: VERSION,
        uptimeMs: clock.now() - startedAt,
        startedAt,
        lastStart: start.lastStart,
        lastStartDetail: start.detail,
        stateDir: paths.stateDir,
        socket: paths.socket,
        config: loaded.source,
        node: process.version,
        stopping,
      },
      bots: bots.bots(),
      queue: queue.counts(),
      audit: audit.status(),
    }),
    stop: (reason) => void stop(reason),
  });

  await server.listen();
  bots.start(specs);
  loop.start();
  const ready = `listening on ${paths.socket}; ${specs.size} bot kinds`;
  notifier.ready(ready);
  log.info(`hived ${VERSION} ready (pid ${process.pid}, ${start.lastStart} start): ${ready}`);
  return { paths, start, stop, stopped };
}

/** Entry point of the `hived` command (called by daemon/hived.js after its Node version check). */
export async function runFromCommandLine(): Promise<void> {
  let options: ReturnType<typeof parseFlags>;
  try {
    options = parseFlags(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`hived: ${(error as Error).message}; see hived --help\n`);
    process.exit(1);
  }
  if (options === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (options === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  let daemon: RunningDaemon;
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
  const onSignal = (signal: NodeJS.Signals) => {
    void daemon.stop(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // `systemctl reload` sends SIGHUP; Node's default action would kill hived
  // without a drain or a shutdown marker. Config reload replaces this.
  process.on('SIGHUP', () => {
    process.stderr.write('hived: SIGHUP: config reload is not implemented yet; still running\n');
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(
      `hived: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`,
    );
  });
  await daemon.stopped;
  process.exit(0);
}
