import type { DeliverMessage, NackMessage } from '../../protocol/bot.ts';
import type { Bot, BotExit } from '../bots/bot.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { Clock } from '../core/clock.ts';
import { Deliveries, type Delivery } from './deliveries.ts';
import type { MessagingConfig } from './intake.ts';
import type { Address, Message, MessageRecord } from './message.ts';
import { inboxOwner } from './routing.ts';
import { PriorityShares } from './shares.ts';
import type { MessageStore } from './store.ts';

export interface CourierDeps {
  store: MessageStore;
  bots: BotSupervisor;
  clock: Clock;
  config: () => MessagingConfig;
  /** Appends a record without waiting (failures are logged). */
  write(record: MessageRecord): void;
  writeFailed(what: string, id: string, error: unknown): void;
  /** Wakes the messenger at that time (ack deadlines). */
  wakeAt(time: number): void;
}

/**
 * Carries messages from inboxes to bots and tracks them until their ack:
 * fills each bot's free slots (its own inbox and its kind's, by priority
 * with minimum shares, one message per bot per round so a kind's bots
 * share its inbox), and books every way a delivery ends: an ack, a nack,
 * a missed deadline, a crash, a requested stop.
 */
export class Courier {
  readonly #deps: CourierDeps;
  readonly deliveries = new Deliveries();
  readonly #shares: PriorityShares;
  readonly #dirtyBots = new Set<string>();
  readonly #dirtyKinds = new Set<string>();
  #pumpScheduled = false;
  #closed = false;

  constructor(deps: CourierDeps) {
    this.#deps = deps;
    this.#shares = new PriorityShares(deps.config().minShare);
  }

  configure(config: MessagingConfig): void {
    this.#shares.configure(config.minShare);
  }

  close(): void {
    this.#closed = true;
  }

  /**
   * An ack from the bot that holds the delivery, or a late one from a bot
   * that held an earlier delivery (after its deadline passed): handled is
   * handled, and the current holder's slot is freed. Anything else (a
   * duplicate, a pruned message, a bot that never had it) is ignored.
   */
  ack(bot: Bot, id: string): void {
    const message = this.#deps.store.get(id);
    const delivery = this.deliveries.get(id);
    if (!message) return;
    const held = delivery?.bot === bot.name || message.history.some((a) => a.bot === bot.name);
    if (!held) return;
    if (delivery) {
      this.deliveries.end(id);
      if (delivery.bot !== bot.name) this.markBot(delivery.bot);
    }
    if (message.state === 'queued' || message.state === 'delivered')
      this.#deps.write({ t: 'ack', id, at: this.#deps.clock.now(), by: bot.name });
  }

  nack(bot: Bot, nack: NackMessage): void {
    const delivery = this.deliveries.get(nack.id);
    if (delivery?.bot !== bot.name) return;
    this.deliveries.end(nack.id);
    const reason = nack.reason ?? (nack.requeue ? 'nack' : 'rejected by the receiver');
    this.failed(delivery, nack.requeue ? 'nack' : 'rejected', reason);
    this.markBot(bot.name);
  }

  extend(bot: Bot, extend: { id: string; ms: number }): void {
    const delivery = this.deliveries.get(extend.id);
    if (delivery?.bot !== bot.name) return;
    const deadline =
      this.#deps.clock.now() + Math.min(extend.ms, this.#deps.config().maxAckExtensionMs);
    if (deadline > delivery.deadline) this.deliveries.extend(delivery, deadline);
  }

  botExited(exit: BotExit): void {
    for (const delivery of this.deliveries.endAll(exit.bot.name)) {
      if (exit.requested) {
        const reason = `${exit.bot.name} stopped: ${exit.reason}`;
        this.#deps.write({
          t: 'release',
          id: delivery.id,
          token: delivery.token,
          at: this.#deps.clock.now(),
          reason,
        });
      } else {
        this.failed(delivery, 'crash', `${exit.bot.name} ${exit.reason}`);
      }
    }
  }

  /**
   * A delivery that did not end in an ack: a permanent rejection or the
   * last allowed delivery dead-letters the message; anything else sends
   * it back after the backoff for this delivery's number.
   */
  failed(
    delivery: Delivery,
    outcome: 'nack' | 'rejected' | 'timeout' | 'crash',
    reason: string,
  ): void {
    const { id, token, number } = delivery;
    const at = this.#deps.clock.now();
    const message = this.#deps.store.get(id);
    const limit = message?.maxDeliveries ?? this.#deps.config().maxDeliveries;
    const how = outcome === 'rejected' ? 'nack' : outcome;
    if (outcome === 'rejected') {
      this.#deps.write({
        t: 'dead',
        id,
        at,
        token,
        outcome: how,
        reason: 'rejected',
        message: reason,
      });
    } else if (limit > 0 && number >= limit) {
      const text = `${reason}; delivered ${number} times (maxDeliveries ${limit}), giving up`;
      this.#deps.write({
        t: 'dead',
        id,
        at,
        token,
        outcome: how,
        reason: 'delivery_limit',
        message: text,
        cause: reason,
      });
    } else {
      const backoff = this.#deps.config().retryBackoffMs;
      const delay = backoff[Math.min(number, backoff.length) - 1] ?? 0;
      this.#deps.write({ t: 'retry', id, token, at, outcome: how, reason, retryAt: at + delay });
    }
  }

  markAddress(address: Address): void {
    const owner = inboxOwner(address);
    if (!owner) return;
    if ('bot' in owner) this.#dirtyBots.add(owner.bot);
    else this.#dirtyKinds.add(owner.kind);
    this.#schedulePump();
  }

  markBot(name: string): void {
    this.#dirtyBots.add(name);
    this.#schedulePump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /**
   * Fills the free slots of the bots that may have work, one message per
   * bot per round, so a kind's inbox is shared across its bots.
   */
  #pump(): void {
    if (this.#closed) return;
    for (const kind of this.#dirtyKinds)
      for (const bot of this.#deps.bots.kindBots(kind)) this.#dirtyBots.add(bot.name);
    this.#dirtyKinds.clear();
    let ready: Bot[] = [];
    for (const name of this.#dirtyBots) {
      const bot = this.#deps.bots.find(name);
      if (bot && this.#hasSlot(bot)) ready.push(bot);
    }
    this.#dirtyBots.clear();
    const now = this.#deps.clock.now();
    while (ready.length > 0) {
      ready = ready.filter((bot) => this.#deliverNext(bot, now) && this.#hasSlot(bot));
    }
  }

  #hasSlot(bot: Bot): boolean {
    return (
      bot.state === 'ready' &&
      this.deliveries.held(bot.name) < this.#deps.config().maxInflightPerBot
    );
  }

  /** Delivers the most urgent message (by share) of the bot's own inbox and its kind's; false when none. */
  #deliverNext(bot: Bot, now: number): boolean {
    const own: Address = `bot:${bot.name}`;
    const shared: Address = `kind:${bot.kind}`;
    for (;;) {
      const a = this.#nextLevel(own);
      const b = this.#nextLevel(shared);
      if (a < 0 && b < 0) return false;
      const inbox = b < 0 || (a >= 0 && a <= b) ? own : shared;
      const message = this.#take(inbox);
      if (!message) continue;
      if (message.expiresAt !== undefined && message.expiresAt <= now) {
        this.expire(message, now);
        continue;
      }
      return this.#deliver(bot, message, now);
    }
  }

  #nextLevel(inbox: Address): number {
    const owed = this.#shares.owed(
      inbox,
      (level) => this.#deps.store.inboxes.levelSize(inbox, level) > 0,
    );
    return owed >= 0 ? owed : this.#deps.store.inboxes.firstLevel(inbox);
  }

  #take(inbox: Address): Message | undefined {
    const backlog = (level: number) => this.#deps.store.inboxes.levelSize(inbox, level) > 0;
    const owed = this.#shares.owed(inbox, backlog);
    const message = this.#deps.store.inboxes.take(inbox, owed);
    if (message) this.#shares.served(inbox, message.priority, owed, backlog);
    else this.#shares.drop(inbox);
    return message;
  }

  #deliver(bot: Bot, message: Message, now: number): boolean {
    const deadline = now + this.#deps.config().ackTimeoutMs;
    const { seq, durable } = this.#deps.store.append({
      t: 'deliver',
      id: message.id,
      bot: bot.name,
      at: now,
      deadline,
    });
    durable.catch((error: unknown) => this.#deps.writeFailed('deliver', message.id, error));
    if (seq === 0) {
      this.#deps.store.inboxes.restore(message);
      return false;
    }
    const number = message.deliveries + 1;
    const delivery: Delivery = { id: message.id, bot: bot.name, token: seq, number, deadline };
    this.deliveries.start(delivery);
    this.#deps.wakeAt(deadline);
    if (!bot.send(deliverMessage(message, number, this.#deps.config().ackTimeoutMs))) {
      this.deliveries.end(message.id);
      const reason = `${bot.name} went away before the message reached it`;
      this.#deps.write({ t: 'release', id: message.id, token: seq, at: now, reason });
      return false;
    }
    return true;
  }

  expire(message: Message, at: number): void {
    const ttl = message.ttlMs ?? 0;
    const text = `not delivered within its TTL (${ttl} ms)`;
    this.#deps.write({ t: 'dead', id: message.id, at, reason: 'expired', message: text });
  }
}

function deliverMessage(message: Message, number: number, ackDeadlineMs: number): DeliverMessage {
  return {
    type: 'deliver',
    id: message.id,
    from: message.from,
    to: message.to,
    priority: message.priority,
    body: message.body,
    delivery: number,
    ackDeadlineMs,
    sentAt: message.createdAt,
    ...(message.topic !== undefined ? { topic: message.topic } : {}),
    ...(message.replyTo !== undefined ? { replyTo: message.replyTo } : {}),
    ...(message.expectReply ? { expectReply: true } : {}),
    ...(message.more ? { more: true } : {}),
  };
}
