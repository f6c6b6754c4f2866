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
  Log: 'log',
  // bot-to-bot messaging (daemon/messenger)
  /** bot → daemon: send a message; the daemon answers `sent` once it is persisted (or refused). */
  Message: 'message',
  Sent: 'sent',
  /** daemon → bot: a message for this bot; answer with `ack` or `nack`. */
  Deliver: 'deliver',
  Ack: 'ack',
  Nack: 'nack',
  /** bot → daemon: more time before the ack deadline. */
  Extend: 'extend',
  Subscribe: 'subscribe',
  Unsubscribe: 'unsubscribe',
} as const;

/** Priorities of bot-to-bot messages: 0 most urgent, 3 least. */
export const MESSAGE_PRIORITIES = 4;

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

/**
 * The fields every bot-to-bot message carries, as a bot sends it, as the
 * store keeps it and as a bot receives it.
 */
export interface MessageEnvelope {
  /** The address the sender used: a bot name, a bot kind (any one of its bots) or a topic. */
  to: string;
  topic?: string;
  body: unknown;
  /** Set on a reply: the id of the message it answers. */
  replyTo?: string;
  /** The sender waits for a reply (`request`): a handler's return value is sent back as one. */
  expectReply?: boolean;
  /** A partial reply: more replies to the same message follow. */
  more?: boolean;
}

/** A message delivered to this bot. Ids are stable across redeliveries: drop one already handled. */
export interface DeliverMessage extends MessageEnvelope {
  type: 'deliver';
  id: string;
  /** The sender: a bot name, or `@...` for an operator or the web page. */
  from: string;
  /** 0 (most urgent) to 3. */
  priority: number;
  /** 1 for the first delivery, then 2, 3...: a redelivery after a crash, nack or timeout. */
  delivery: number;
  /** Milliseconds to ack (or extend) before the message is redelivered. */
  ackDeadlineMs: number;
  /** When the sender's message was accepted (epoch ms). */
  sentAt: number;
}

/** The answer to a bot's `message`: its ids once persisted, or why it was refused. */
export interface SentMessage {
  type: 'sent';
  ref: string | number;
  ids?: string[];
  error?: { code: string; message: string };
}

export type DaemonToBot =
  | TaskMessage
  | CancelMessage
  | ShutdownMessage
  | DeliverMessage
  | SentMessage;

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

/** A bot sends a message to a bot name, a bot kind (any one of its bots) or a topic. */
export interface OutgoingMessage extends MessageEnvelope {
  type: 'message';
  /** Echoed in the daemon's `sent` answer (omit it and no answer comes). */
  ref?: string | number;
  /** 0 (most urgent) to 3; default messaging.defaultPriority. */
  priority?: number;
  ttlMs?: number;
}

export interface AckMessage {
  type: 'ack';
  ids: string[];
}

export interface NackMessage {
  type: 'nack';
  id: string;
  /** true: deliver it again later (counts a delivery); false: dead-letter it (`rejected`). */
  requeue: boolean;
  reason?: string;
}

export interface ExtendMessage {
  type: 'extend';
  id: string;
  /** The new deadline is now + ms (capped by messaging.maxAckExtensionMs). */
  ms: number;
}

export interface SubscribeMessage {
  type: 'subscribe' | 'unsubscribe';
  topics: string[];
}

export type MessagingToDaemon =
  | OutgoingMessage
  | AckMessage
  | NackMessage
  | ExtendMessage
  | SubscribeMessage;

export type BotToDaemon =
  | ReadyMessage
  | HeartbeatMessage
  | ResultMessage
  | LogMessage
  | MessagingToDaemon;

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);
/** Bot names, kinds, topics and `@` endpoints: what an address may look like. */
const ADDRESS = /^@?[A-Za-z0-9][\w.:/@-]{0,199}$/;
const TOPIC = /^[A-Za-z0-9][\w.:/-]{0,127}$/;
const MESSAGE_ID = /^[a-z0-9]{1,64}$/;
const MAX_IDS = 1000;

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
    case 'message':
      return parseOutgoing(value);
    case 'ack':
      return parseAck(value);
    case 'nack':
      if (!isMessageId(value.id)) return 'nack.id must be a message id';
      if (typeof value.requeue !== 'boolean') return 'nack.requeue must be a boolean';
      return {
        type: 'nack',
        id: value.id,
        requeue: value.requeue,
        ...(typeof value.reason === 'string' ? { reason: value.reason.slice(0, 1000) } : {}),
      };
    case 'extend':
      if (!isMessageId(value.id)) return 'extend.id must be a message id';
      if (!isWhole(value.ms, 1)) return 'extend.ms must be a whole number >= 1';
      return { type: 'extend', id: value.id, ms: value.ms };
    case 'subscribe':
    case 'unsubscribe':
      return parseSubscribe(value.type, value);
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

function isWhole(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && MESSAGE_ID.test(value);
}

export function isAddress(value: unknown): value is string {
  return typeof value === 'string' && ADDRESS.test(value);
}

export function isTopic(value: unknown): value is string {
  return typeof value === 'string' && TOPIC.test(value);
}

function parseOutgoing(value: Record<string, unknown>): OutgoingMessage | string {
  const { ref, to, topic, priority, ttlMs, replyTo, expectReply, more } = value;
  if (ref !== undefined && typeof ref !== 'string' && typeof ref !== 'number')
    return 'message.ref must be a string or a number';
  if (!isAddress(to)) return 'message.to must be a bot name, a bot kind or a topic';
  if (topic !== undefined && !isTopic(topic)) return 'message.topic must be a topic name';
  if (priority !== undefined && !(isWhole(priority, 0) && priority < MESSAGE_PRIORITIES))
    return `message.priority must be 0 to ${MESSAGE_PRIORITIES - 1}`;
  if (ttlMs !== undefined && !isWhole(ttlMs, 1)) return 'message.ttlMs must be a whole number >= 1';
  if (replyTo !== undefined && !isMessageId(replyTo)) return 'message.replyTo must be a message id';
  if (!('body' in value)) return 'message.body is missing';
  return {
    type: 'message',
    to,
    body: value.body,
    ...(ref !== undefined ? { ref } : {}),
    ...(topic !== undefined ? { topic } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
    ...(replyTo !== undefined ? { replyTo } : {}),
    ...(expectReply === true ? { expectReply: true } : {}),
    ...(more === true ? { more: true } : {}),
  };
}

function parseAck(value: Record<string, unknown>): AckMessage | string {
  const { ids } = value;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDS)
    return `ack.ids must be a list of 1 to ${MAX_IDS} message ids`;
  for (const id of ids) if (!isMessageId(id)) return 'ack.ids must hold message ids';
  return { type: 'ack', ids: ids as string[] };
}

function parseSubscribe(
  type: 'subscribe' | 'unsubscribe',
  value: Record<string, unknown>,
): SubscribeMessage | string {
  const { topics } = value;
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > 100)
    return `${type}.topics must be a list of 1 to 100 topics`;
  for (const topic of topics) if (!isTopic(topic)) return `${type}.topics must hold topic names`;
  return { type, topics: topics as string[] };
}
