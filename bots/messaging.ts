/**
 * The SDK's side of bot-to-bot messages (see sdk.ts for the bot loop):
 * send, request (send and wait for the reply), handlers for incoming
 * messages, topic subscriptions. Every delivery is acked once its handler
 * returns, nacked when it throws; a message id seen before is not handled
 * twice (delivery is at least once: a redelivery after a missed ack
 * deadline must not run the handler again).
 */
import {
  BotMessageType,
  type DeliverMessage,
  MESSAGE_PRIORITIES,
  type SentMessage,
} from '../protocol/bot.ts';

/** A message as a handler sees it: the delivery without the wire's bookkeeping. */
export type IncomingMessage = Omit<DeliverMessage, 'type' | 'ackDeadlineMs'>;

export interface SendOptions {
  /** 0 (most urgent) to 3; default: the daemon's messaging.defaultPriority. */
  priority?: number;
  ttlMs?: number;
  topic?: string;
}

export interface MessageContext {
  bot: string;
  /** Sends a reply to the sender; `more: true` for a part with more to follow. */
  reply(body: unknown, options?: SendOptions & { more?: boolean }): Promise<SendReceipt>;
  /** Asks for more time before the ack deadline (ms from now). */
  extend(ms: number): void;
}

/** Return a value to reply with it (when the sender waits); throw to nack. */
export type MessageHandler = (message: IncomingMessage, ctx: MessageContext) => unknown;

/** What the daemon answered to a send: the message's id (one per receiving kind for a topic). */
export interface SendReceipt {
  id: string;
  ids: string[];
}

/** A send the daemon refused (code as in ERRORS.md, e.g. HIVE_MSG_NO_RECIPIENT). */
export class MessageError extends Error {
  override name = 'MessageError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

type Send = (message: Record<string, unknown>) => void;

interface Waiting {
  resolve(message: IncomingMessage): void;
  reject(error: Error): void;
  onPart?: (message: IncomingMessage) => void;
}

/** Handled message ids remembered for dedupe. */
const DEFAULT_DEDUPE = 10_000;
/** The daemon takes up to 1,000 ids per ack message. */
const MAX_ACK_BATCH = 1000;

export class Messaging {
  readonly #send: Send;
  readonly #bot: string;
  readonly #dedupeSize: number;
  readonly #isPermanent: (error: unknown) => boolean;
  #handler: MessageHandler | undefined;
  #nextRef = 1;
  readonly #sends = new Map<number, { resolve(r: SendReceipt): void; reject(e: Error): void }>();
  readonly #requests = new Map<string, Waiting>();
  /** Message id → handled ('done') or being handled ('running'), oldest first. */
  readonly #seen = new Map<string, 'running' | 'done'>();
  #acks: string[] = [];
  /** Handlers running now (a shutdown waits for them). */
  running = 0;

  constructor(deps: {
    send: Send;
    bot: string;
    dedupe?: number;
    isPermanent: (error: unknown) => boolean;
  }) {
    this.#send = deps.send;
    this.#bot = deps.bot;
    this.#dedupeSize = deps.dedupe ?? DEFAULT_DEDUPE;
    this.#isPermanent = deps.isPermanent;
  }

  onMessage(handler: MessageHandler): void {
    this.#handler = handler;
  }

  subscribe(type: 'subscribe' | 'unsubscribe', topics: string[]): void {
    if (topics.length > 0) this.#send({ type, topics });
  }

  /** Sends a message; resolves once the daemon has persisted it. */
  send(
    to: string,
    body: unknown,
    options: SendOptions & { replyTo?: string; more?: boolean; expectReply?: boolean } = {},
  ): Promise<SendReceipt> {
    const ref = this.#nextRef++;
    if (
      options.priority !== undefined &&
      !(options.priority >= 0 && options.priority < MESSAGE_PRIORITIES)
    )
      return Promise.reject(new RangeError(`priority must be 0 to ${MESSAGE_PRIORITIES - 1}`));
    return new Promise((resolve, reject) => {
      this.#sends.set(ref, { resolve, reject });
      this.#send({ type: BotMessageType.Message, ref, to, body: body ?? null, ...options });
    });
  }

  /**
   * Sends a message and resolves with the first full reply (partial ones go
   * to `onPart`); rejects after `timeoutMs` (default 30 s).
   */
  async request(
    to: string,
    body: unknown,
    options: SendOptions & { timeoutMs?: number; onPart?: (m: IncomingMessage) => void } = {},
  ): Promise<IncomingMessage> {
    const { timeoutMs = 30_000, onPart, ...send } = options;
    const receipt = await this.send(to, body, { ...send, expectReply: true });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        for (const id of receipt.ids) this.#requests.delete(id);
        reject(
          new MessageError('HIVE_MSG_REPLY_TIMEOUT', `no reply from ${to} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const waiting: Waiting = {
        resolve: (m) => {
          clearTimeout(timer);
          for (const id of receipt.ids) this.#requests.delete(id);
          resolve(m);
        },
        reject,
        ...(onPart ? { onPart } : {}),
      };
      for (const id of receipt.ids) this.#requests.set(id, waiting);
    });
  }

  /** The daemon's answer to a send. */
  sent(message: SentMessage): void {
    const ref = Number(message.ref);
    const pending = this.#sends.get(ref);
    if (!pending) return;
    this.#sends.delete(ref);
    if (message.error) pending.reject(new MessageError(message.error.code, message.error.message));
    else pending.resolve({ id: message.ids?.[0] ?? '', ids: message.ids ?? [] });
  }

  /** A delivery: a reply someone waits for, a duplicate, or work for the handler. */
  deliver(delivery: DeliverMessage): void {
    const message = incoming(delivery);
    const waiting = message.replyTo ? this.#requests.get(message.replyTo) : undefined;
    if (waiting) {
      this.#ack(message.id);
      if (message.more) waiting.onPart?.(message);
      else waiting.resolve(message);
      return;
    }
    const seen = this.#seen.get(message.id);
    if (seen === 'done') this.#ack(message.id); // our earlier ack was lost
    if (seen) return;
    void this.#handle(message);
  }

  async #handle(message: IncomingMessage): Promise<void> {
    const handler = this.#handler;
    if (!handler) {
      this.#send({
        type: 'nack',
        id: message.id,
        requeue: false,
        reason: `${this.#bot} has no message handler`,
      });
      return;
    }
    this.#remember(message.id, 'running');
    this.running += 1;
    try {
      const value = await handler(message, this.#context(message));
      if (message.expectReply && value !== undefined) await this.#reply(message, value, {});
      this.#remember(message.id, 'done');
      this.#ack(message.id);
    } catch (error) {
      this.#seen.delete(message.id);
      const reason = error instanceof Error ? error.message : String(error);
      this.#send({ type: 'nack', id: message.id, requeue: !this.#isPermanent(error), reason });
    } finally {
      this.running -= 1;
    }
  }

  #context(message: IncomingMessage): MessageContext {
    return {
      bot: this.#bot,
      reply: (body, options = {}) => this.#reply(message, body, options),
      extend: (ms) =>
        this.#send({ type: 'extend', id: message.id, ms: Math.max(1, Math.round(ms)) }),
    };
  }

  #reply(message: IncomingMessage, body: unknown, options: SendOptions & { more?: boolean }) {
    return this.send(message.from, body, {
      priority: message.priority,
      ...options,
      replyTo: message.id,
    });
  }

  #remember(id: string, state: 'running' | 'done'): void {
    this.#seen.delete(id);
    this.#seen.set(id, state);
    if (this.#seen.size > this.#dedupeSize) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
  }

  /** Acks go out together, once per event-loop turn (at most MAX_ACK_BATCH per message). */
  #ack(id: string): void {
    if (this.#acks.length === 0) setImmediate(() => this.#flushAcks());
    this.#acks.push(id);
    if (this.#acks.length >= MAX_ACK_BATCH) this.#flushAcks();
  }

  #flushAcks(): void {
    if (this.#acks.length === 0) return;
    const ids = this.#acks;
    this.#acks = [];
    this.#send({ type: 'ack', ids });
  }
}

function incoming(d: DeliverMessage): IncomingMessage {
  const { type: _type, ackDeadlineMs: _deadline, ...message } = d;
  return message;
}
