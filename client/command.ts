import { HiveError } from '../protocol/errors.ts';
import type { Connection } from './connection.ts';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Exit codes: a contract for scripts. */
export const Exit = {
  Ok: 0,
  /** The command failed (bad usage, an error from the daemon, a waited task that did not succeed). */
  Error: 1,
  /** hived could not be reached. */
  Unreachable: 2,
  /** A wait timed out; the work goes on. */
  Timeout: 3,
  /** `hive audit verify` found the trail (or an export) damaged or tampered with. */
  Tampered: 4,
} as const;

export interface CliContext {
  json: boolean;
  socket: string;
  /** Opens (once) the connection to the daemon. */
  connect(): Promise<Connection>;
  /** Sends one request on the shared connection. */
  /** Sends one request on the shared connection (with the client timeout unless `long`). */
  call(
    cmd: string,
    args?: Record<string, unknown>,
    options?: { onEvent?: (event: unknown) => void; long?: boolean },
  ): Promise<unknown>;
  out(text: string): void;
  err(text: string): void;
}

/**
 * One `hive` subcommand. Most map straight to one daemon command: they give
 * `request` and `render`; the few with their own flow (follow modes, stop
 * and wait) give `run` instead.
 */
export interface CliCommand {
  /** The words that name it: ['task', 'submit']. */
  words: string[];
  /** Positional arguments after the words, e.g. 'TYPE' or 'KIND N'. */
  args?: string;
  summary: string;
  options?: Record<string, OptionSpec & { help: string; arg?: string }>;
  /** Number of positionals accepted: [min, max]. */
  positionals?: [number, number];
  request?(values: Values, positionals: string[]): { cmd: string; args: Record<string, unknown> };
  render?(result: unknown): string;
  /** True when the request may legitimately take long (waits): no client timeout. */
  waits?(values: Values): boolean;
  /** Exit code for a successful answer (default Ok). */
  exitCode?(result: unknown): number;
  run?(ctx: CliContext, values: Values, positionals: string[]): Promise<number>;
}

/** Long commands (backup, restore) stream `{progress}` events: shown on stderr, kept out of --json. */
export function printProgress(ctx: CliContext, event: unknown): void {
  const progress = (event as { progress?: unknown } | null)?.progress;
  if (!ctx.json && typeof progress === 'string') ctx.err(`... ${progress}`);
}

export function usageError(message: string): HiveError {
  return new HiveError('HIVE_IPC_BAD_ARGS', message);
}

/** Parses a whole number option, with the option's name in the error. */
export function intOption(values: Values, name: string, min = 0): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < min) {
    throw usageError(`--${name} expects a whole number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function intArg(value: string | undefined, name: string, min = 0): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min) {
    throw usageError(
      `${name} expects a whole number >= ${min}, got ${JSON.stringify(value ?? '')}`,
    );
  }
  return n;
}

export function jsonOption(values: Values, name: string): unknown {
  const raw = values[name];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(String(raw));
  } catch {
    throw usageError(
      `--${name} expects JSON, got ${JSON.stringify(raw)} (quote it: --${name} '{"x":1}')`,
    );
  }
}

export function stringOption(values: Values, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** Copies defined entries only, so absent options are not sent as undefined. */
export function defined(entries: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v;
  return out;
}
