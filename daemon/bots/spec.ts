import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Socket } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { HiveError } from '../../protocol/errors.ts';
import type { BotKindConfig, Config, RestartPolicy } from '../config/schema.ts';
import { sameValue } from '../core/values.ts';
import type { Spawner } from './bot.ts';

/** A bot kind's settings resolved once (paths, transport, defaults), not on every spawn. */
export interface BotSpec {
  kind: string;
  /** The program to exec: the daemon's Node for ipc bots, else the resolved command. */
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  transport: 'ipc' | 'stdio';
  taskTypes: ReadonlySet<string>;
  concurrency: number;
  memoryLimitBytes: number | undefined;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  killTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  taskTimeoutMs: number;
  maxLineBytes: number;
  restart: RestartPolicy;
  /** The kind that takes this kind's tasks when it cannot (degradation routes them). */
  fallback: string | undefined;
}

/** Every kind of a config, resolved, with its configured instance count. */
export type KindSpecs = Map<string, { spec: BotSpec; instances: number }>;

/** Resolves every bot kind; throws HIVE_CONFIG_INVALID for a command that cannot run. */
export function resolveSpecs(
  config: Config,
  context: { baseDir: string; compileCacheDir?: string },
): KindSpecs {
  const specs: KindSpecs = new Map();
  for (const [kind, kindConfig] of Object.entries(config.bots)) {
    const spec = resolveSpec(kind, kindConfig, {
      ...context,
      defaultTaskTimeoutMs: config.queue.defaultTimeoutMs,
    });
    specs.set(kind, { spec, instances: kindConfig.instances });
  }
  for (const [kind, { spec }] of specs) {
    if (spec.fallback === undefined) continue;
    if (spec.fallback === kind || !specs.has(spec.fallback))
      throw new HiveError(
        'HIVE_CONFIG_INVALID',
        `bots.${kind}.fallback: ${JSON.stringify(spec.fallback)} is ${spec.fallback === kind ? 'the kind itself' : 'not a configured bot kind'}; known: ${[...specs.keys()].join(', ')}`,
      );
  }
  return specs;
}

/**
 * What a running process was started with. Anything else in a spec (limits,
 * timeouts, restart policy, task types) can change under a running bot; a
 * change here needs a new process. The heartbeat interval is one: the bot
 * reads it from its environment at start.
 */
const LAUNCH_FIELDS = ['file', 'argv', 'env', 'cwd', 'transport', 'heartbeatIntervalMs'] as const;

/** The launch fields that differ between two specs (empty: the same process would do). */
export function launchChanges(a: BotSpec, b: BotSpec): string[] {
  const changed = LAUNCH_FIELDS.filter((field) => !sameValue(a[field], b[field]));
  return [...new Set(changed.map((f) => (f === 'file' || f === 'argv' ? 'command' : f)))];
}

const NODE_SCRIPT = /\.(c|m)?(j|t)s$/;

/** What a deployment changes of a kind: its launch (issue 8). */
export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Absolute; default: the kind's working directory. */
  cwd?: string;
  /** Limits that replace the kind's (a new version may need more or less). */
  concurrency?: number;
  memoryLimitMb?: number;
}

/** The launch fields of a spec, as plain JSON (to remember what a config said). */
export function launchOf(spec: BotSpec): Record<string, unknown> {
  return Object.fromEntries(LAUNCH_FIELDS.map((f) => [f, spec[f]]));
}

/** True when a spec still launches what `launchOf` recorded. */
export function launchIs(spec: BotSpec, recorded: Record<string, unknown>): boolean {
  return LAUNCH_FIELDS.every((f) => sameValue(spec[f], recorded[f]));
}

/**
 * A kind's spec with another launch (a deployment's green version):
 * timeouts and task types stay the kind's, limits unless the launch sets
 * them; the environment is the kind's plus the launch's. Throws HIVE_CONFIG_INVALID for a command that cannot run.
 */
export function relaunch(kindSpec: BotSpec, launch: Launch): BotSpec {
  const spec: BotSpec = {
    ...kindSpec,
    concurrency: launch.concurrency ?? kindSpec.concurrency,
    memoryLimitBytes:
      launch.memoryLimitMb === undefined
        ? kindSpec.memoryLimitBytes
        : launch.memoryLimitMb * 1024 * 1024,
  };
  const cwd = launch.cwd ?? spec.cwd;
  const env = { ...spec.env, ...launch.env };
  if (NODE_SCRIPT.test(launch.command)) {
    const script = resolve(cwd, launch.command);
    assertExists(spec.kind, script, constants.R_OK);
    return {
      ...spec,
      file: process.execPath,
      argv: [script, ...launch.args],
      env,
      cwd,
      transport: 'ipc',
    };
  }
  const file = findExecutable(spec.kind, launch.command, cwd);
  return { ...spec, file, argv: launch.args, env, cwd, transport: 'stdio' };
}

export function resolveSpec(
  kind: string,
  config: BotKindConfig,
  context: { baseDir: string; defaultTaskTimeoutMs: number; compileCacheDir?: string },
): BotSpec {
  const cwd = resolve(context.baseDir, config.cwd ?? '.');
  const looksLikeNode = NODE_SCRIPT.test(config.command);
  const transport =
    config.transport === 'auto' ? (looksLikeNode ? 'ipc' : 'stdio') : config.transport;
  if (transport === 'ipc' && !looksLikeNode) {
    throw new HiveError(
      'HIVE_CONFIG_INVALID',
      `bots.${kind}.command: transport ipc needs a Node script (.js, .mjs, .cjs, .ts), got ${JSON.stringify(config.command)}`,
    );
  }
  const env: Record<string, string> = { ...config.env };
  if (context.compileCacheDir && !env.NODE_COMPILE_CACHE)
    env.NODE_COMPILE_CACHE = context.compileCacheDir;
  if (looksLikeNode) {
    const script = resolve(cwd, config.command);
    assertExists(kind, script, constants.R_OK);
    return base({ file: process.execPath, argv: [script, ...config.args] });
  }
  return base({ file: findExecutable(kind, config.command, cwd), argv: config.args });

  function base(launch: { file: string; argv: string[] }): BotSpec {
    return {
      kind,
      ...launch,
      env,
      cwd,
      transport,
      taskTypes: new Set(config.taskTypes ?? [kind]),
      concurrency: config.concurrency,
      memoryLimitBytes: config.memoryLimitMb ? config.memoryLimitMb * 1024 * 1024 : undefined,
      startTimeoutMs: config.startTimeoutMs,
      stopTimeoutMs: config.stopTimeoutMs,
      killTimeoutMs: config.killTimeoutMs ?? config.stopTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      taskTimeoutMs: config.taskTimeoutMs ?? context.defaultTaskTimeoutMs,
      maxLineBytes: config.maxLineBytes,
      restart: config.restart,
      fallback: config.fallback,
    };
  }
}

function assertExists(kind: string, path: string, mode: number): void {
  try {
    accessSync(path, mode);
  } catch {
    throw new HiveError(
      'HIVE_CONFIG_INVALID',
      `bots.${kind}.command: ${path} does not exist or is not accessible`,
    );
  }
}

/** Finds the command the way a shell would, so a typo is a config error and not a crash loop. */
function findExecutable(kind: string, command: string, cwd: string): string {
  if (command.includes('/')) {
    const path = isAbsolute(command) ? command : resolve(cwd, command);
    assertExists(kind, path, constants.X_OK);
    return path;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new HiveError(
    'HIVE_CONFIG_INVALID',
    `bots.${kind}.command: ${command} was not found on PATH`,
  );
}

/** Variables of the daemon's own supervisor that a bot must not see (it could signal systemd). */
const PRIVATE_ENV = [
  'NOTIFY_SOCKET',
  'WATCHDOG_USEC',
  'WATCHDOG_PID',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
];

const SETPRIV = '/usr/bin/setpriv';

function hasSetpriv(): boolean {
  try {
    accessSync(SETPRIV, constants.X_OK);
    return process.platform === 'linux';
  } catch {
    return false;
  }
}

/**
 * Launches bots in their own process group (so a stop reaches their
 * children, and a Ctrl-C in the daemon's terminal does not reach them
 * before the daemon decides), with PR_SET_PDEATHSIG through util-linux
 * `setpriv` where present, so the kernel kills a bot when the daemon dies
 * even by SIGKILL. Node has no prctl binding; setpriv execs in place and
 * keeps the IPC file descriptor.
 */
export function createSpawner(): Spawner {
  const wrap = hasSetpriv();
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  for (const key of PRIVATE_ENV) delete inherited[key];
  const reaper = startGroupReaper();
  return {
    spawn(spec, extraEnv): ChildProcess {
      const file = wrap ? SETPRIV : spec.file;
      const argv = wrap ? ['--pdeathsig', 'KILL', '--', spec.file, ...spec.argv] : spec.argv;
      const child = spawn(file, argv, {
        cwd: spec.cwd,
        env: { ...inherited, ...spec.env, ...extraEnv },
        stdio:
          spec.transport === 'ipc' ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'],
        detached: true,
        serialization: 'json',
      });
      const group = child.pid;
      if (group !== undefined) {
        reaper.add(group);
        // After the bot's own exit handler has killed what is left of its group.
        child.once('exit', () => setImmediate(() => reaper.remove(group)));
      }
      return child;
    },
  };
}

/**
 * The parent-death signal reaches only the bot itself, not the processes it
 * started. One small shell per daemon, in its own process group, holds a
 * pipe from the daemon and is told each bot's process group; when the pipe
 * ends (the daemon exited or was SIGKILLed) it kills the groups still listed.
 */
const REAPER_SCRIPT = `groups=''
while read -r line; do
  case "$line" in
    -*) kept=''; for g in $groups; do [ "$g" = "\${line#-}" ] || kept="$kept $g"; done; groups=$kept ;;
    *) groups="$groups $line" ;;
  esac
done
for g in $groups; do kill -KILL -"$g" 2>/dev/null; done`;

function startGroupReaper(): { add(group: number): void; remove(group: number): void } {
  let stdin: Writable | null = null;
  try {
    const reaper = spawn('/bin/sh', ['-c', REAPER_SCRIPT], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    reaper.on('error', () => {});
    reaper.unref();
    stdin = reaper.stdin;
    stdin?.on('error', () => {});
    (stdin as Socket | null)?.unref();
  } catch {
    // No shell: bots are still covered by the parent-death signal.
  }
  const write = (line: string) => {
    if (stdin?.writable) stdin.write(`${line}\n`);
  };
  return { add: (group) => write(String(group)), remove: (group) => write(`-${group}`) };
}
