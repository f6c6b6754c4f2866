import type { MessageEnvelope } from '../../protocol/bot.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import type { Address, Message, MessageRecord, NewMessage } from './message.ts';
import { type Directory, route } from './routing.ts';
import type { MessageStore } from './store.ts';

export type MessagingConfig = Config['messaging'];

/** What a sender asks for (a bot's `message`, `hive msg send`, the web page). */
export interface SendRequest extends MessageEnvelope {
  /** The sender: a bot name or an `@` endpoint. */
  from: string;
  priority?: number;
  ttlMs?: number;
}

/**
 * Accepts messages: checks them, routes them, makes room in full inboxes,
 * and answers once the send records are durable (the same promise as a task
 * submission: nothing acknowledged is lost to a kill -9). An eviction is
 * committed in the same write as the message that caused it.
 */
export class Intake {
  readonly #store: MessageStore;
  readonly #directory: Directory;
  readonly #clock: Clock;
  readonly #config: () => MessagingConfig;
  /** Sends appended but not yet durable, per address: they count toward the inbox limit. */
  readonly #pending = new Map<Address, number>();
  refused = 0;

  constructor(deps: {
    store: MessageStore;
    directory: Directory;
    clock: Clock;
    config: () => MessagingConfig;
  }) {
    this.#store = deps.store;
    this.#directory = deps.directory;
    this.#clock = deps.clock;
    this.#config = deps.config;
  }

  /** Persists the message (one per address it routes to); resolves with their ids. */
  async send(request: SendRequest): Promise<string[]> {
    let records: MessageRecord[];
    let evicted: Message[];
    try {
      ({ records, evicted } = this.#prepare(request));
    } catch (error) {
      this.refused += 1;
      throw error;
    }
    const addresses = records.flatMap((r) => (r.t === 'send' ? [r.m.address] : []));
    for (const address of addresses) this.#count(address, 1);
    try {
      await Promise.all(records.map((record) => this.#store.append(record).durable));
    } catch (error) {
      // Not persisted: the evicted messages go back where they were.
      for (const message of evicted)
        if (message.state === 'queued') this.#store.inboxes.restore(message);
      throw error;
    } finally {
      for (const address of addresses) this.#count(address, -1);
    }
    return records.flatMap((r) => (r.t === 'send' ? [r.m.id] : []));
  }

  #prepare(request: SendRequest): { records: MessageRecord[]; evicted: Message[] } {
    const config = this.#config();
    const size = Buffer.byteLength(JSON.stringify(request.body ?? null));
    if (size > config.maxBodyBytes)
      throw new HiveError(
        'HIVE_MSG_TOO_LARGE',
        `the body is ${size} bytes; messaging.maxBodyBytes allows ${config.maxBodyBytes}`,
      );
    if (request.ttlMs !== undefined && request.ttlMs > config.maxTtlMs)
      throw new HiveError(
        'HIVE_MSG_TTL_TOO_LONG',
        `ttlMs ${request.ttlMs} is above messaging.maxTtlMs (${config.maxTtlMs})`,
      );
    const priority = request.priority ?? config.defaultPriority;
    const ttlMs = request.ttlMs ?? (config.defaultTtlMs > 0 ? config.defaultTtlMs : undefined);
    const addresses = route(request.to, this.#directory);
    const records: MessageRecord[] = [];
    const evicted: Message[] = [];
    const now = this.#clock.now();
    for (const address of addresses) {
      const victim = this.#makeRoom(address, priority, config.inboxMaxLen);
      if (victim) {
        evicted.push(victim);
        records.push({
          t: 'dead',
          id: victim.id,
          at: now,
          reason: 'maxlen',
          message: `evicted from the full inbox ${address} (messaging.inboxMaxLen ${config.inboxMaxLen}) for a P${priority} message`,
        });
      }
      records.push({ t: 'send', m: this.#newMessage(request, address, priority, ttlMs, now) });
    }
    return { records, evicted };
  }

  #newMessage(
    request: SendRequest,
    address: Address,
    priority: number,
    ttlMs: number | undefined,
    now: number,
  ): NewMessage {
    return {
      id: newId('m', now),
      from: request.from,
      to: request.to,
      address,
      priority,
      body: request.body ?? null,
      createdAt: now,
      maxDeliveries: this.#config().maxDeliveries,
      ...(request.topic !== undefined ? { topic: request.topic } : {}),
      ...(request.replyTo !== undefined ? { replyTo: request.replyTo } : {}),
      ...(request.expectReply ? { expectReply: true } : {}),
      ...(request.more ? { more: true } : {}),
      ...(ttlMs !== undefined ? { ttlMs } : {}),
    };
  }

  /**
   * At the limit, takes out the least urgent, oldest waiting message that
   * is not more urgent than the new one (it becomes a `maxlen` dead letter,
   * with a record, also when it is a P0). When every waiting message is
   * more urgent, the new one is refused instead: it is the least urgent.
   * Messages waiting out a redelivery backoff are not evicted.
   */
  #makeRoom(address: Address, priority: number, maxLen: number): Message | undefined {
    if (address.startsWith('@')) return undefined;
    const queued = this.#store.depth(address).reduce((a, b) => a + b, 0);
    if (queued + (this.#pending.get(address) ?? 0) < maxLen) return undefined;
    for (let level = 3; level >= priority; level--) {
      const victim = this.#store.inboxes.takeLevel(address, level);
      if (victim) return victim;
    }
    throw new HiveError(
      'HIVE_MSG_INBOX_FULL',
      `the inbox ${address} holds ${queued} messages (messaging.inboxMaxLen), none less urgent than P${priority}`,
    );
  }

  #count(address: Address, delta: number): void {
    const n = (this.#pending.get(address) ?? 0) + delta;
    if (n === 0) this.#pending.delete(address);
    else this.#pending.set(address, n);
  }
}
