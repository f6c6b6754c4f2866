/**
 * Test helpers that run the real thing: a real `hived` process on a temp
 * state directory, talked to over its real Unix socket.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { type ChildOutput, collectOutput } from '../../client/child-output.ts';
import { Connection } from '../../client/connection.ts';
import type { BotView } from '../../protocol/views.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HIVED = join(ROOT, 'daemon', 'hived.js');
export const HIVE = join(ROOT, 'client', 'hive.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'bots');

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 15_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function tempDir(t: ExecutionContext, prefix = 'hive-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface DaemonHandle {
  stateDir: string;
  socket: string;
  process: ChildProcess;
  /** Everything the daemon wrote to stdout and stderr so far. */
  output(): string;
  /** One request on a fresh connection. */
  call(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
  /** A connection that stays open (for concurrency and streams). */
  connect(): Promise<Connection>;
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  /** Config object written as the state dir's config file (JSON is YAML). */
  config?: Record<string, unknown>;
  /** Reuse a state directory (restart scenarios). */
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Do not wait for the socket (for tests of failed starts). */
  noWait?: boolean;
  args?: string[];
}

/** A bot kind config for a fixture bot, with timings suited to tests. */
export function fixtureBot(
  file: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    command: resolve(FIXTURES, file),
    instances: 1,
    startTimeoutMs: 10_000,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 5_000,
    stopTimeoutMs: 1_000,
    restart: { initialDelayMs: 50, maxDelayMs: 500 },
    ...extra,
  };
}

let python: boolean | undefined;
/** Whether python3 is on PATH (asked once, and only by the tests that need it). */
export function hasPython(): boolean {
  python ??= spawnSync('python3', ['--version']).status === 0;
  return python;
}

/** The Python fixture bot speaking JSON lines on stdin/stdout (task type `upper`). */
export function pythonBot(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return fixtureBot('stdio-bot.py', {
    command: 'python3',
    args: [join(FIXTURES, 'stdio-bot.py')],
    taskTypes: ['upper'],
    ...extra,
  });
}

/** The sample echo bot with test-friendly timings. */
export function echoBot(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return fixtureBot(join(ROOT, 'bots', 'echo.ts'), extra);
}

export function writeConfig(stateDir: string, config: Record<string, unknown>): void {
  mkdirSync(join(stateDir, 'config'), { recursive: true });
  writeFileSync(join(stateDir, 'config', 'hive.yaml'), JSON.stringify(config, null, 2));
}

/** Starts a real hived; it is SIGKILLed at the end of the test if still running. */
export async function startDaemon(
  t: ExecutionContext,
  options: StartOptions = {},
): Promise<DaemonHandle> {
  const stateDir = options.stateDir ?? join(tempDir(t), 'state');
  mkdirSync(stateDir, { recursive: true });
  if (options.config) writeConfig(stateDir, options.config);
  const socket = join(stateDir, 'run', 'hived.sock');
  const child = spawn(process.execPath, [HIVED, '--state-dir', stateDir, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const call = async (cmd: string, args: Record<string, unknown> = {}) => {
    const connection = await Connection.open(socket);
    try {
      return await connection.request(cmd, args);
    } finally {
      connection.close();
    }
  };
  const handle: DaemonHandle = {
    stateDir,
    socket,
    process: child,
    output: () => output,
    call,
    connect: () => Connection.open(socket),
    exited,
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
  if (!options.noWait) {
    const died = exited.then(({ code, signal }) => {
      throw new Error(`hived exited during start (code ${code}, signal ${signal}):\n${output}`);
    });
    const answered = waitFor(() => call('status'), {
      timeoutMs: 20_000,
      what: 'hived to answer status',
    });
    await Promise.race([answered, died]).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- hived output ---\n${output}`);
    });
    died.catch(() => {});
  }
  return handle;
}

export interface Status {
  daemon: { pid: number; lastStart: 'clean' | 'crash'; uptimeMs: number; version: string };
  bots: BotView[];
  queue: Record<'queued' | 'running' | 'done' | 'failed' | 'dead' | 'cancelled', number>;
}

export async function status(daemon: DaemonHandle): Promise<Status> {
  return (await daemon.call('status')) as Status;
}

/** Waits until `count` bots (of a kind, if given) are ready. */
export async function waitForReadyBots(
  daemon: DaemonHandle,
  count: number,
  kind?: string,
): Promise<Status> {
  return waitFor(
    async () => {
      const s = await status(daemon);
      const ready = s.bots.filter((b) => b.state === 'ready' && (!kind || b.kind === kind));
      return ready.length >= count ? s : undefined;
    },
    { what: `${count} ready ${kind ?? ''} bots` },
  );
}

export type CliResult = ChildOutput;

/** Runs the real `hive` CLI in a child process. */
export function runHive(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return collectOutput(
    spawn(process.execPath, [HIVE, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

export function resolvePath(...parts: string[]): string {
  return resolve(ROOT, ...parts);
}
