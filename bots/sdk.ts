/**
 * The hive bot SDK: a JS/TS bot in a few lines.
 *
 *   import { runBot } from './sdk.ts';
 *   runBot({ handlers: { echo: (payload) => payload } });
 *
 * It speaks the daemon's protocol over the Node IPC channel when forked by
 * hived, or as JSON lines on stdin/stdout otherwise; sends `ready` and
 * heartbeats; runs tasks concurrently; honours `cancel` and `shutdown`; and
 * exits when the daemon goes away, so a bot never outlives its supervisor.
 * Bots talk to each other with `send`, `request` and `onMessage` (messaging.ts).
 */
import { flushCompileCache } from 'node:module';
import { createInterface } from 'node:readline';
import {
  BotEnv,
  BotMessageType,
  type DaemonToBot,
  type ResultMessage,
  type TaskMessage,
} from '../protocol/bot.ts';
import {
  type IncomingMessage,
  type MessageHandler,
  Messaging,
  type SendOptions,
  type SendReceipt,
} from './messaging.ts';

export type {
  IncomingMessage,
  MessageContext,
  MessageHandler,
  SendOptions,
  SendReceipt,
} from './messaging.ts';
export { MessageError } from './messaging.ts';

export interface TaskContext {
  id: string;
  type: string;
  attempt: number;
  timeoutMs: number;
  /** Aborted when the daemon cancels the task or it runs out of time. */
  signal: AbortSignal;
  /** This bot's name (`echo-0`). */
  bot: string;
}

export type TaskHandler = (payload: unknown, ctx: TaskContext) => unknown;

export interface BotOptions {
  /** Handlers by task type; a single function handles every type. */
  handlers: Record<string, TaskHandler> | TaskHandler;
  /** Reported in the ready message (shown by `hive bots ls`). */
  version?: string;
  /** Runs before the process exits on shutdown (close files, flush). */
  onShutdown?: () => void | Promise<void>;
  /** Handles messages from other bots and operators (or set it later with `onMessage`). */
  onMessage?: MessageHandler;
  /** Topics this bot's kind receives (sent at every start). */
  subscribe?: string[];
  /** How many handled message ids are remembered to drop redeliveries (default 10,000). */
  dedupe?: number;
}

/** Throw this for a failure that retrying cannot fix; the task fails at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

type Send = (message: Record<string, unknown>) => void;

interface Transport {
  send: Send;
  onMessage(listener: (message: DaemonToBot) => void): void;
  onClose(listener: () => void): void;
}

function ipcTransport(): Transport {
  return {
    send: (message) => {
      if (process.connected) process.send?.(message);
    },
    onMessage: (listener) => process.on('message', (m) => listener(m as DaemonToBot)),
    onClose: (listener) => process.on('disconnect', listener),
  };
}

function stdioTransport(): Transport {
  // stdout carries the protocol: route console.log to stderr so a stray print cannot corrupt it.
  console.log = console.error;
  console.info = console.error;
  const lines = createInterface({ input: process.stdin });
  return {
    send: (message) => process.stdout.write(`${JSON.stringify(message)}\n`),
    onMessage: (listener) =>
      lines.on('line', (line) => {
        try {
          listener(JSON.parse(line) as DaemonToBot);
        } catch {
          // not a protocol line; ignore
        }
      }),
    onClose: (listener) => lines.on('close', listener),
  };
}

export interface RunningBot {
  readonly name: string;
  /** Tasks running right now. */
  readonly inflight: number;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  /** Sends a message to a bot name, a bot kind or a topic; resolves once the daemon persisted it. */
  send(to: string, body: unknown, options?: SendOptions): Promise<SendReceipt>;
  /** Sends and waits for the reply (rejects with HIVE_MSG_REPLY_TIMEOUT after timeoutMs, default 30 s). */
  request(
    to: string,
    body: unknown,
    options?: SendOptions & { timeoutMs?: number; onPart?: (part: IncomingMessage) => void },
  ): Promise<IncomingMessage>;
  onMessage(handler: MessageHandler): void;
  subscribe(...topics: string[]): void;
  unsubscribe(...topics: string[]): void;
}

/** Starts the bot loop; returns at once. */
export function runBot(options: BotOptions): RunningBot {
  const transport = typeof process.send === 'function' ? ipcTransport() : stdioTransport();
  const name = process.env[BotEnv.Name] ?? 'bot';
  const heartbeatMs = Number(process.env[BotEnv.HeartbeatMs]) || 1000;
  const running = new Map<string, AbortController>();
  let shuttingDown = false;
  const messaging = new Messaging({
    send: transport.send,
    bot: name,
    ...(options.dedupe !== undefined ? { dedupe: options.dedupe } : {}),
    isPermanent: (error) => error instanceof PermanentError,
  });
  if (options.onMessage) messaging.onMessage(options.onMessage);
  const idle = () => running.size === 0 && messaging.running === 0;

  const heartbeat = setInterval(
    () => transport.send({ type: BotMessageType.Heartbeat }),
    heartbeatMs,
  );

  const exit = async (code: number) => {
    clearInterval(heartbeat);
    try {
      await options.onShutdown?.();
    } finally {
      process.exit(code);
    }
  };

  const finish = (message: ResultMessage) => {
    if (!running.delete(message.id)) return;
    transport.send(message as unknown as Record<string, unknown>);
    if (shuttingDown && idle()) void exit(0);
  };

  const runTask = async (task: TaskMessage) => {
    const controller = new AbortController();
    running.set(task.id, controller);
    const handler =
      typeof options.handlers === 'function' ? options.handlers : options.handlers[task.taskType];
    const base = { type: 'result' as const, id: task.id, token: task.token };
    if (!handler) {
      finish({
        ...base,
        ok: false,
        error: { message: `no handler for task type ${task.taskType}`, retryable: false },
      });
      return;
    }
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(task.timeoutMs)]);
    try {
      const result = await handler(task.payload, {
        id: task.id,
        type: task.taskType,
        attempt: task.attempt,
        timeoutMs: task.timeoutMs,
        signal,
        bot: name,
      });
      finish({ ...base, ok: true, result: result === undefined ? null : result });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      finish({
        ...base,
        ok: false,
        error: { message, retryable: !(error instanceof PermanentError) },
      });
    }
  };

  transport.onMessage((message) => {
    switch (message?.type) {
      case BotMessageType.Task:
        void runTask(message);
        break;
      case BotMessageType.Cancel:
        running.get(message.id)?.abort(new Error(message.reason));
        running.delete(message.id);
        break;
      case BotMessageType.Shutdown:
        shuttingDown = true;
        if (idle()) void exit(0);
        else {
          setTimeout(() => void exit(0), message.graceMs).unref();
          // Message handlers finish and ack before the exit (tasks report through finish).
          const poll = setInterval(() => {
            if (idle()) void exit(0);
          }, 20);
          poll.unref();
        }
        break;
      case BotMessageType.Deliver:
        messaging.deliver(message);
        break;
      case BotMessageType.Sent:
        messaging.sent(message);
        break;
    }
  });
  // The daemon is gone (even if it was SIGKILLed): do not outlive it.
  transport.onClose(() => void exit(0));
  process.on('SIGTERM', () => void exit(0));

  transport.send({
    type: BotMessageType.Ready,
    ...(options.version ? { version: options.version } : {}),
  });
  messaging.subscribe('subscribe', options.subscribe ?? []);
  // hived gives bots a compile cache (NODE_COMPILE_CACHE), but Node writes it
  // only on a normal exit: a bot that is killed or crashes never does, and its
  // replacement strips the TypeScript types again (slower start, ~18 MB more
  // RSS for the type stripper). Write it once the bot is up.
  setImmediate(() => flushCompileCache());

  return {
    name,
    get inflight() {
      return running.size;
    },
    log: (level, message) => transport.send({ type: BotMessageType.Log, level, message }),
    send: (to, body, sendOptions) => messaging.send(to, body, sendOptions),
    request: (to, body, requestOptions) => messaging.request(to, body, requestOptions),
    onMessage: (handler) => messaging.onMessage(handler),
    subscribe: (...topics) => messaging.subscribe('subscribe', topics),
    unsubscribe: (...topics) => messaging.subscribe('unsubscribe', topics),
  };
}
