import { HiveError } from '../protocol/errors.ts';
import { ActorVerifier } from './audit/actor.ts';
import { DAEMON_ACTOR } from './audit/audit.ts';
import { registerAuditCommands } from './audit/commands.ts';
import { auditInterceptor } from './audit/interceptor.ts';
import { auditRecovery } from './audit/subscriptions.ts';
import type { ConfigSnapshot } from './config/sources.ts';
import { registerDaemonCommands } from './core/daemon-commands.ts';
import { VERSION } from './core/paths.ts';
import { type DaemonBase, daemonInfo, type RunningDaemon, runSteps } from './daemon-base.ts';
import { ControlServer } from './ipc/control-server.ts';
import { CommandRouter } from './ipc/router.ts';
import { registerLogCommands } from './logs/commands.ts';
import { registerRecoveryCommands } from './recovery/commands.ts';
import type { RecoveryService } from './recovery/recovery.ts';
import type { Counts } from './tasks/task-queue.ts';

/**
 * Safe mode: the state did not load and could not be repaired. The socket
 * answers (status, logs, backups, recovery) so the operator sees why and can
 * restore; no bot runs, nothing is dispatched and the config is not
 * watched. A restore repairs the state and this daemon then starts again
 * in-process to load it.
 */
export async function serveSafeMode(
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
    unknown: (name) =>
      /^(task|bots|config|mode|health|alerts|msg|sched|deploy)\.|^top$/.test(name)
        ? refused(name)
        : undefined,
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
