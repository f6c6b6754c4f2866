import { MESSAGE_PRIORITIES } from '../../protocol/bot.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import { FinishedLog, type RetentionRule } from '../core/finished-log.ts';
import { KeyedMinHeap } from '../core/heap.ts';
import { ReadyLanes } from '../core/ready-lanes.ts';
import { EventStore, type OpenReport } from '../store/event-store.ts';
import type { JournalFs } from '../store/journal.ts';
import {
  type Address,
  applyMessageRecord,
  FINAL_MESSAGE_STATES,
  MESSAGE_STATES,
  type Message,
  type MessageRecord,
  type MessageState,
  type MessageStoreState,
  messageReducer,
} from './message.ts';

export interface MessageStoreEvents {
  /** A message changed state (after the change is durable); `record` is what changed it. */
  changed: { message: Message; from: MessageState | undefined; record: MessageRecord };
  /** A message is waiting at an address (new, or back after a failed delivery). */
  queued: Message;
}

export type MessageCounts = Record<MessageState, number>;

/**
 * The durable message store: every change is a journal record applied once
 * it is on disk (the task queue's EventStore, a second document of its own),
 * plus the indexes the messenger works from: inboxes by address and
 * priority, a TTL heap over every queued message, depths per address.
 */
export class MessageStore extends TypedEmitter<MessageStoreEvents> {
  readonly #store: EventStore<MessageStoreState, MessageRecord>;
  readonly #clock: Clock;
  /** Queued messages ready to deliver, by address and priority; redeliveries wait in its heap. */
  readonly inboxes: ReadyLanes<Message>;
  /** Queued messages with a TTL, soonest first; a message leaves it when it leaves the queue. */
  readonly #expiries = new KeyedMinHeap<{ id: string; at: number }>(
    (e) => e.at,
    (e) => e.id,
  );
  readonly #counts: MessageCounts = { queued: 0, delivered: 0, acked: 0, expired: 0, dead: 0 };
  /** Queued messages per address (ready or waiting out a backoff). */
  readonly #depth = new Map<Address, number[]>();
  /** Acked messages and dead letters are kept by separate rules: a flood of the first must not push out the second. */
  readonly #acked = new FinishedLog();
  readonly #deadLetters = new FinishedLog();
  #replaying = false;

  constructor(dir: string, deps: { clock: Clock; compactAfterBytes: number; fs?: JournalFs }) {
    super();
    this.#clock = deps.clock;
    this.inboxes = new ReadyLanes<Message>(
      MESSAGE_PRIORITIES,
      (id) => this.get(id),
      (m) => m.state === 'queued',
      (m) => m.address,
    );
    this.#store = new EventStore<MessageStoreState, MessageRecord>(
      dir,
      'messages',
      { ...messageReducer, apply: (state, record, seq) => this.#apply(state, record, seq) },
      { compactAfterBytes: deps.compactAfterBytes, ...(deps.fs ? { fs: deps.fs } : {}) },
    );
  }

  async open(): Promise<OpenReport> {
    this.#replaying = true;
    try {
      const report = await this.#store.open();
      this.#rebuild();
      return report;
    } finally {
      this.#replaying = false;
    }
  }

  #apply(state: MessageStoreState, record: MessageRecord, seq: number): void {
    const id = 'id' in record ? record.id : record.t === 'send' ? record.m.id : undefined;
    const before = id === undefined ? undefined : state.messages.get(id);
    const from = before?.state;
    if (record.t === 'prune' && !this.#replaying) this.#forget(state, record.ids);
    const message = applyMessageRecord(state, record, seq);
    if (!message || this.#replaying) return;
    if (from) this.#leave(message, from);
    this.#enter(message);
    this.emit('changed', { message, from, record });
  }

  #forget(state: MessageStoreState, ids: readonly string[]): void {
    for (const id of ids) {
      const message = state.messages.get(id);
      if (message && FINAL_MESSAGE_STATES.has(message.state)) this.#counts[message.state] -= 1;
    }
  }

  #leave(message: Message, from: MessageState): void {
    this.#counts[from] -= 1;
    if (from !== 'queued') return;
    this.#addDepth(message, -1);
    this.#expiries.delete(message.id);
  }

  #enter(message: Message): void {
    this.#counts[message.state] += 1;
    if (message.state === 'queued') {
      this.#index(message, this.#clock.now());
      this.emit('queued', message);
    } else if (FINAL_MESSAGE_STATES.has(message.state)) {
      this.#finishedLog(message).push(message.id);
    }
  }

  #index(message: Message, now: number): void {
    this.#addDepth(message, 1);
    if (message.expiresAt !== undefined)
      this.#expiries.push({ id: message.id, at: message.expiresAt });
    if (!message.address.startsWith('@')) this.inboxes.add(message, now);
  }

  #addDepth(message: Message, delta: number): void {
    let depth = this.#depth.get(message.address);
    if (!depth) {
      depth = [0, 0, 0, 0];
      this.#depth.set(message.address, depth);
    }
    depth[message.priority] = (depth[message.priority] ?? 0) + delta;
  }

  #rebuild(): void {
    for (const state of MESSAGE_STATES) this.#counts[state] = 0;
    this.inboxes.clear();
    this.#depth.clear();
    while (this.#expiries.pop());
    this.#acked.clear();
    this.#deadLetters.clear();
    const now = this.#clock.now();
    const finished: Message[] = [];
    for (const message of this.#store.state.messages.values()) {
      this.#counts[message.state] += 1;
      if (message.state === 'queued') this.#index(message, now);
      else if (FINAL_MESSAGE_STATES.has(message.state)) finished.push(message);
    }
    finished.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const message of finished) this.#finishedLog(message).push(message.id);
  }

  #finishedLog(message: Message): FinishedLog {
    return message.state === 'acked' ? this.#acked : this.#deadLetters;
  }

  /** Appends a record and waits until it is durable (and applied). */
  commit(record: MessageRecord): Promise<number> {
    return this.#store.commit(record);
  }

  /** Appends a record without waiting (see EventStore.append). */
  append(record: MessageRecord): { seq: number; durable: Promise<void> } {
    return this.#store.append(record);
  }

  get(id: string): Message | undefined {
    return this.#store.state.messages.get(id);
  }

  require(id: string): Message {
    const message = this.get(id);
    if (!message)
      throw new HiveError(
        'HIVE_MSG_NOT_FOUND',
        `no message ${id} (finished messages are pruned after their retention)`,
      );
    return message;
  }

  counts(): MessageCounts {
    return { ...this.#counts };
  }

  /** Queued messages at an address, per priority (ready or waiting out a backoff). */
  depth(address: Address): readonly number[] {
    return this.#depth.get(address) ?? [0, 0, 0, 0];
  }

  /** Every address with its queued messages per priority. */
  depths(): IterableIterator<[Address, number[]]> {
    return this.#depth.entries();
  }

  /** Bot kinds subscribed to a topic. */
  subscribers(topic: string): ReadonlySet<string> | undefined {
    return this.#store.state.topics.get(topic);
  }

  topics(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.#store.state.topics;
  }

  /** Pops the queued messages whose TTL has passed; returns them and the next expiry time. */
  expired(now: number): { due: Message[]; next: number | undefined } {
    const due: Message[] = [];
    for (let top = this.#expiries.peek(); top && top.at <= now; top = this.#expiries.peek()) {
      this.#expiries.pop();
      const message = this.get(top.id);
      if (message?.state === 'queued' && message.expiresAt === top.at) due.push(message);
    }
    return { due, next: this.#expiries.peek()?.at };
  }

  /**
   * Newest first, optionally only one state or one receiver: `to` matches
   * the address as written and where it led (`echo` finds messages to the
   * kind echo and to a topic echo alike).
   */
  list(filter: { states?: ReadonlySet<MessageState>; to?: string; limit: number }): Message[] {
    const out: Message[] = [];
    const { to, states } = filter;
    const all = [...this.#store.state.messages.values()];
    for (let i = all.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const message = all[i] as Message;
      if (states && !states.has(message.state)) continue;
      if (
        to !== undefined &&
        message.to !== to &&
        message.address.replace(/^(bot|kind):/, '') !== to
      )
        continue;
      out.push(message);
    }
    return out;
  }

  /** Messages in state `delivered` (at start: deliveries of the previous run). */
  *delivered(): IterableIterator<Message> {
    for (const message of this.#store.state.messages.values())
      if (message.state === 'delivered') yield message;
  }

  /** Finished messages past their retention: acked ones by one rule, dead letters by the other. */
  prunable(acked: RetentionRule, deadLetters: RetentionRule): string[] {
    const now = this.#clock.now();
    const finishedAt = (id: string) => {
      const message = this.get(id);
      return message && FINAL_MESSAGE_STATES.has(message.state)
        ? (message.finishedAt ?? Number.POSITIVE_INFINITY)
        : undefined;
    };
    const ids = this.#acked.prunable(acked, now, finishedAt);
    const room = { ...deadLetters, pruneBatch: deadLetters.pruneBatch - ids.length };
    return room.pruneBatch > 0
      ? ids.concat(this.#deadLetters.prunable(room, now, finishedAt))
      : ids;
  }

  get lastSeq(): number {
    return this.#store.lastSeq;
  }

  setCompactAfterBytes(bytes: number): void {
    this.#store.setCompactAfterBytes(bytes);
  }

  flushed(): Promise<void> {
    return this.#store.flushed();
  }

  compact(): Promise<void> {
    return this.#store.compact();
  }

  close(options: { compact: boolean }): Promise<void> {
    return this.#store.close(options);
  }
}
