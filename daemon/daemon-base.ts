/** What the normal and the safe-mode daemon share: their handle, their base parts, stop steps. */
import { resolve } from 'node:path';
import type { Audit } from './audit/audit.ts';
import type { ConfigTrigger } from './config/manager.ts';
import type { systemClock } from './core/clock.ts';
import { type StatePaths, statePaths, VERSION } from './core/paths.ts';
import type { Logger, LogHub } from './logs/log-hub.ts';
import type { ShutdownMarker, StartReport } from './recovery/shutdown-marker.ts';
import type { StateLock } from './recovery/state-lock.ts';
import type { ServiceNotifier } from './supervision/notify.ts';

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

/** What both the normal and the safe-mode daemon are built on. */
export interface DaemonBase {
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

export function daemonInfo(base: DaemonBase, startedAt: number, mode: 'normal' | 'safe') {
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
export async function runSteps(
  log: Logger,
  steps: [string, () => Promise<unknown>][],
): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      log.error(`stop step "${name}" failed: ${String(error)}`);
    }
  }
}

/** The daemon's main config file: --config, or <state>/config/hive.yaml. */
export function mainConfigFile(options: DaemonOptions): string {
  return resolve(options.configFile ?? statePaths(options.stateDir).configFile);
}
