import type { BotToDaemon, OutgoingMessage } from '../../protocol/bot.ts';
import { HiveError, toWireError } from '../../protocol/errors.ts';
import type { Bot } from '../bots/bot.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { DueTimer } from '../core/due-timer.ts';
import { pruneDue } from '../core/finished-log.ts';
import type { Logger } from '../logs/log-hub.ts';
import { Courier } from './courier.ts';
import type { Delivery } from './deliveries.ts';
import { Intake, type MessagingConfig, type SendRequest } from './intake.ts';
import type { Message, MessageRecord } from './message.ts';
import type { MessageStore } from './store.ts';

/** Receives the messages addressed to an `@` endpoint (an operator waiting, the web page). */
export type EndpointListener = (message: Message) => void;

/**
 * Bot-to-bot messages: takes what bots and operators send (persisted before
 * it is accepted), delivers it to a bot with a free slot (P0 first, lower
 * priorities at their minimum share), tracks each delivery until its ack,
 * and redelivers on a nack, a missed ack deadline or a crash, after a
 * backoff, up to maxDeliveries; dead letters keep their reason and history.
 * TTLs are enforced wherever a message waits.
 */
export class Messenger implements ConfigApplier {
  readonly configPart = 'messenger';
  readonly configKeys = ['messaging'];
  readonly #store: MessageStore;
  readonly #bots: BotSupervisor;
  readonly #clock: Clock;
  readonly #log: Logger;
  #config: MessagingConfig;
  readonly intake: Intake;
  readonly #courier: Courier;
  readonly #endpoints = new Map<string, EndpointListener>();
  readonly #timer: DueTimer;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning = false;
  #closed = false;

  constructor(deps: {
    store: MessageStore;
    bots: BotSupervisor;
    clock: Clock;
    log: Logger;
    config: MessagingConfig;
  }) {
    this.#store = deps.store;
    this.#bots = deps.bots;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#config = deps.config;
    this.#timer = new DueTimer(() => this.#wake(), deps.clock);
    this.#courier = new Courier({
      store: deps.store,
      bots: deps.bots,
      clock: deps.clock,
      config: () => this.#config,
      write: (record) => this.#write(record),
      writeFailed: (what, id, error) => this.#writeFailed(what, id, error),
      wakeAt: (time) => this.#timer.at(time),
    });
    this.intake = new Intake({
      store: deps.store,
      clock: deps.clock,
      config: () => this.#config,
      directory: {
        hasBot: (name) => this.#bots.find(name) !== undefined,
        hasKind: (kind) => this.#bots.pool(kind) !== undefined,
        subscribers: (topic) => this.#store.subscribers(topic),
      },
    });
    this.#store.on('queued', (message) => this.#onQueued(message));
    this.#bots.on('ready', (bot) => this.#courier.markBot(bot.name));
    this.#bots.on('exit', (exit) => this.#courier.botExited(exit));
    this.#bots.on('message', ({ bot, message }) => this.#onBotMessage(bot, message));
  }

  /**
   * Deliveries of the previous run go back to their inboxes (their bots
   * are gone; the deliveries still count), then timers and pruning start.
   */
  async start(reason: string): Promise<number> {
    const at = this.#clock.now();
    const released = [...this.#store.delivered()].map((message) =>
      this.#store.commit({
        t: 'release',
        id: message.id,
        token: message.delivery?.token ?? 0,
        at,
        reason,
      }),
    );
    await Promise.all(released);
    this.#armPrune();
    this.#wake();
    for (const [address] of this.#store.depths()) this.#courier.markAddress(address);
    return released.length;
  }

  /** Persists a message; resolves with its ids (one per receiving inbox). */
  send(request: SendRequest): Promise<string[]> {
    if (this.#closed)
      return Promise.reject(
        new HiveError('HIVE_DAEMON_STOPPING', 'hived is stopping and accepts no messages'),
      );
    return this.intake.send(request);
  }

  /**
   * Messages to `@name` go to `listener` from now on (the replies an
   * operator waits for). Returns the function that closes the endpoint;
   * what arrives for a closed endpoint is dead-lettered (`rejected`).
   */
  openEndpoint(name: `@${string}`, listener: EndpointListener): () => void {
    this.#endpoints.set(name, listener);
    return () => {
      if (this.#endpoints.get(name) === listener) this.#endpoints.delete(name);
    };
  }

  /** The running config's `messaging` section. */
  get config(): MessagingConfig {
    return this.#config;
  }

  /** Messages out with bots now. */
  get inflight(): number {
    return this.#courier.deliveries.size;
  }

  /** The current delivery of a message (bot, deadline), if it is out. */
  delivery(id: string): Delivery | undefined {
    return this.#courier.deliveries.get(id);
  }

  /** An operator sends a dead or expired message back to its inbox, with fresh deliveries. */
  async requeue(id: string, by: string | undefined): Promise<Message> {
    const message = this.#store.require(id);
    if (message.state !== 'dead' && message.state !== 'expired')
      throw new HiveError(
        'HIVE_MSG_NOT_REQUEUABLE',
        `message ${id} is ${message.state}; only a dead or expired message can be requeued`,
      );
    await this.#store.commit({ t: 'requeue', id, at: this.#clock.now(), ...(by ? { by } : {}) });
    return message;
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      this.#config = next.config.messaging;
      this.#courier.configure(next.config.messaging);
      this.#store.setCompactAfterBytes(next.config.messaging.compactAfterBytes);
      this.#armPrune();
      // A larger window or new shares may let waiting messages out now.
      for (const [address] of this.#store.depths()) this.#courier.markAddress(address);
      return undefined;
    };
  }

  // ------------------------------------------------------------------ bots

  #onBotMessage(bot: Bot, message: BotToDaemon): void {
    switch (message.type) {
      case 'message':
        void this.#fromBot(bot, message);
        break;
      case 'ack':
        for (const id of message.ids) this.#courier.ack(bot, id);
        this.#courier.markBot(bot.name);
        break;
      case 'nack':
        this.#courier.nack(bot, message);
        break;
      case 'extend':
        this.#courier.extend(bot, message);
        break;
      case 'subscribe':
      case 'unsubscribe':
        this.#subscribe(bot, message.type, message.topics);
        break;
    }
  }

  async #fromBot(bot: Bot, message: OutgoingMessage): Promise<void> {
    const { ref, type: _type, ...rest } = message;
    try {
      const ids = await this.send({ ...rest, from: bot.name });
      if (ref !== undefined) bot.send({ type: 'sent', ref, ids });
    } catch (error) {
      const { code, message: text } = toWireError(error);
      if (ref !== undefined) bot.send({ type: 'sent', ref, error: { code, message: text } });
      else this.#log.warn(`${bot.name}: message to ${message.to} refused: ${text}`, { code });
    }
  }

  #subscribe(bot: Bot, type: 'subscribe' | 'unsubscribe', topics: string[]): void {
    for (const topic of topics) {
      const subscribed = this.#store.subscribers(topic)?.has(bot.kind) ?? false;
      if (subscribed === (type === 'subscribe')) continue;
      this.#write({ t: type, kind: bot.kind, topic });
    }
  }

  // -------------------------------------------------------------- delivery

  #onQueued(message: Message): void {
    if (message.address.startsWith('@')) this.#toEndpoint(message);
    else if (message.availableAt <= this.#clock.now()) this.#courier.markAddress(message.address);
    else this.#timer.at(message.availableAt);
    if (message.expiresAt !== undefined) this.#timer.at(message.expiresAt);
  }

  /** An endpoint gets its message once the ack that records the hand-over is durable. */
  #toEndpoint(message: Message): void {
    const listener = this.#endpoints.get(message.address);
    const at = this.#clock.now();
    if (!listener) {
      const text = `nobody waits at ${message.address} (the operator's wait ended)`;
      this.#write({ t: 'dead', id: message.id, at, reason: 'rejected', message: text });
      return;
    }
    const { durable } = this.#store.append({ t: 'ack', id: message.id, at, by: message.address });
    durable.then(
      () => {
        try {
          listener(message);
        } catch (error) {
          this.#log.error(`endpoint ${message.address} failed: ${String(error)}`);
        }
      },
      (error: unknown) => this.#writeFailed('ack', message.id, error),
    );
  }

  /** Expiries, redeliveries that are due, missed ack deadlines; then the next wake-up. */
  #wake(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    const expired = this.#store.expired(now);
    for (const message of expired.due)
      if (!this.#courier.deliveries.get(message.id)) this.#courier.expire(message, now);
    const nextDue = this.#store.inboxes.promoteDue(now, (m) =>
      this.#courier.markAddress(m.address),
    );
    const overdue = this.#courier.deliveries.overdue(now);
    for (const delivery of overdue.due) {
      const text = `no ack from ${delivery.bot} within ${this.#config.ackTimeoutMs} ms`;
      this.#courier.failed(delivery, 'timeout', text);
      this.#courier.markBot(delivery.bot);
    }
    this.#timer.at(expired.next);
    this.#timer.at(nextDue);
    this.#timer.at(overdue.next);
  }

  // ------------------------------------------------------------- plumbing

  #write(record: MessageRecord): void {
    const { durable } = this.#store.append(record);
    const id = 'id' in record ? record.id : record.t;
    durable.catch((error: unknown) => this.#writeFailed(record.t, id, error));
  }

  #writeFailed(what: string, id: string, error: unknown): void {
    if (this.#closed) return;
    this.#log.error(`message store: ${what} of ${id} not persisted: ${String(error)}`);
  }

  #armPrune(): void {
    clearInterval(this.#pruneTimer);
    if (this.#closed) return;
    this.#pruneTimer = setInterval(
      () => void this.#prune(),
      this.#config.retention.pruneIntervalMs,
    );
    this.#pruneTimer.unref();
  }

  async #prune(): Promise<void> {
    if (this.#pruning) return;
    this.#pruning = true;
    try {
      const { retention } = this.#config;
      const deadLetters = {
        maxFinished: retention.maxDeadLetters,
        maxAgeMs: retention.deadLetterMaxAgeMs,
        pruneBatch: retention.pruneBatch,
      };
      await pruneDue(
        () => this.#store.prunable(retention, deadLetters),
        (ids) => this.#store.commit({ t: 'prune', ids }),
      );
    } catch (error) {
      this.#log.error(`message prune failed: ${String(error)}`);
    } finally {
      this.#pruning = false;
    }
  }

  /** Stops delivering and timers; deliveries out stay out (the bots' acks are still taken). */
  close(): void {
    this.#closed = true;
    this.#courier.close();
    this.#timer.close();
    clearInterval(this.#pruneTimer);
  }
}
