/**
 * Messages between the daemon and a bot. Node bots receive them over the
 * child-process IPC channel; any other executable reads and writes them as
 * newline-delimited JSON on stdin/stdout. Same shapes either way.
 */

/** Message kinds, shared by the daemon and the SDK (one source of truth). */
export const BotMessageType = {
  Ready: 'ready',
  Heartbeat: 'heartbeat',
  Task: 'task',
  Result: 'result',
  Cancel: 'cancel',
  Shutdown: 'shutdown',
  Message: 'message',
  Log: 'log',
} as const;

/** Environment variables the daemon sets for every bot. */
export const BotEnv = {
  Name: 'HIVE_BOT_NAME',
  Kind: 'HIVE_BOT_KIND',
  Version: 'HIVE_BOT_VERSION',
  HeartbeatMs: 'HIVE_HEARTBEAT_MS',
  Transport: 'HIVE_BOT_TRANSPORT',
} as const;

// daemon → bot

export interface TaskMessage {
  type: 'task';
  id: string;
  /** Fencing token of this lease; echo it in the result. */
  token: number;
  taskType: string;
  payload: unknown;
  attempt: number;
  timeoutMs: number;
}

export interface CancelMessage {
  type: 'cancel';
  id: string;
  token: number;
  reason: string;
}

export interface ShutdownMessage {
  type: 'shutdown';
  reason: string;
  /** Milliseconds the bot has before it is sent SIGTERM. */
  graceMs: number;
}

export type DaemonToBot = TaskMessage | CancelMessage | ShutdownMessage;

// bot → daemon

export interface ReadyMessage {
  type: 'ready';
  version?: string;
}

export interface HeartbeatMessage {
  type: 'heartbeat';
}

export interface ResultError {
  message: string;
  /** false: do not retry this task, it cannot succeed. Default true. */
  retryable?: boolean;
}

export interface ResultMessage {
  type: 'result';
  id: string;
  token: number;
  ok: boolean;
  result?: unknown;
  error?: ResultError;
}

export interface LogMessage {
  type: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

export type BotToDaemon = ReadyMessage | HeartbeatMessage | ResultMessage | LogMessage;

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a message that came from a bot. Bots are untrusted input: anything
 * that does not match returns a reason string instead of a message.
 * Hand-written rather than schema-driven because it runs once per result.
 */
export function parseBotMessage(value: unknown): BotToDaemon | string {
  if (!isRecord(value)) return 'message is not a JSON object';
  switch (value.type) {
    case 'ready':
      if (value.version !== undefined && typeof value.version !== 'string') {
        return 'ready.version must be a string';
      }
      return value as unknown as ReadyMessage;
    case 'heartbeat':
      return { type: 'heartbeat' };
    case 'result':
      return parseResult(value);
    case 'log':
      if (typeof value.message !== 'string') return 'log.message must be a string';
      return {
        type: 'log',
        level: LOG_LEVELS.has(value.level as string)
          ? (value.level as LogMessage['level'])
          : 'info',
        message: value.message,
      };
    default:
      return `unknown message type ${JSON.stringify(value.type)}`;
  }
}

function parseResult(value: Record<string, unknown>): ResultMessage | string {
  if (typeof value.id !== 'string') return 'result.id must be a string';
  if (typeof value.token !== 'number') return 'result.token must be a number';
  if (typeof value.ok !== 'boolean') return 'result.ok must be a boolean';
  if (value.ok) {
    return { type: 'result', id: value.id, token: value.token, ok: true, result: value.result };
  }
  const error = isRecord(value.error) ? value.error : {};
  return {
    type: 'result',
    id: value.id,
    token: value.token,
    ok: false,
    error: {
      message: typeof error.message === 'string' ? error.message : 'bot reported a failure',
      retryable: error.retryable !== false,
    },
  };
}
