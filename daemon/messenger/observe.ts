import type { MessengerStats } from '../../protocol/messaging.ts';
import type { EventSink } from '../logs/log-hub.ts';
import type { Message, MessageRecord, MessageState } from './message.ts';
import type { MessageStore } from './store.ts';

export type MessageCounters = MessengerStats['counters'];

/**
 * Counts what happened to messages since hived started, from the durable
 * state changes themselves (one place, so the counters and the store
 * cannot disagree), and writes each change to bot-messaging.jsonl when
 * `logEvents()` says so.
 */
export class MessageObserver {
  readonly counters: MessageCounters = {
    sent: [0, 0, 0, 0],
    delivered: 0,
    redelivered: 0,
    acked: 0,
    nacked: 0,
    timeouts: 0,
    crashes: 0,
    released: 0,
    dead: { rejected: 0, expired: 0, maxlen: 0, delivery_limit: 0 },
    refused: 0,
  };
  readonly #sink: EventSink;
  readonly #logEvents: () => boolean;

  constructor(store: MessageStore, deps: { sink: EventSink; logEvents: () => boolean }) {
    this.#sink = deps.sink;
    this.#logEvents = deps.logEvents;
    store.on('changed', ({ message, from, record }) => {
      this.#count(message, record);
      if (this.#logEvents() && this.#sink.enabled) this.#line(message, from, record);
    });
  }

  #count(message: Message, record: MessageRecord): void {
    const c = this.counters;
    switch (record.t) {
      case 'send':
        c.sent[message.priority] = (c.sent[message.priority] ?? 0) + 1;
        break;
      case 'deliver':
        c.delivered += 1;
        if (message.deliveries > 1) c.redelivered += 1;
        break;
      case 'ack':
        c.acked += 1;
        break;
      case 'retry':
        if (record.outcome === 'nack') c.nacked += 1;
        else if (record.outcome === 'timeout') c.timeouts += 1;
        else c.crashes += 1;
        break;
      case 'release':
        c.released += 1;
        break;
      case 'dead':
        c.dead[record.reason] += 1;
        break;
    }
  }

  #line(message: Message, from: MessageState | undefined, record: MessageRecord): void {
    const fields: Record<string, unknown> = {
      id: message.id,
      from: from ?? null,
      to: message.state,
      by: record.t,
      p: message.priority,
      n: message.deliveries,
    };
    if (record.t === 'send') {
      fields.sender = message.from;
      fields.address = message.address;
    } else if (record.t === 'deliver') fields.bot = record.bot;
    else if (record.t === 'ack') fields.bot = record.by;
    else if (record.t === 'retry') {
      fields.outcome = record.outcome;
      fields.reason = record.reason;
      fields.retryAt = record.retryAt;
    } else if (record.t === 'dead' || record.t === 'release') {
      fields.reason = record.reason;
      if (record.t === 'dead') fields.why = record.message;
    }
    this.#sink.write('message', fields);
  }
}

/** The `msg.stats` answer: counters, states, depths by priority and kind, deliveries out. */
export function messengerStats(
  store: MessageStore,
  counters: MessageCounters,
  extra: { inflight: number; refused: number; kindOf: (bot: string) => string | undefined },
): MessengerStats {
  const queuedByPriority = [0, 0, 0, 0];
  const queuedByKind: Record<string, number> = {};
  for (const [address, depth] of store.depths()) {
    const total = depth.reduce((a, b) => a + b, 0);
    depth.forEach((n, p) => {
      queuedByPriority[p] = (queuedByPriority[p] ?? 0) + n;
    });
    if (total === 0) continue;
    const kind = address.startsWith('kind:')
      ? address.slice(5)
      : address.startsWith('bot:')
        ? (extra.kindOf(address.slice(4)) ?? address.slice(4))
        : '@endpoints';
    queuedByKind[kind] = (queuedByKind[kind] ?? 0) + total;
  }
  const topics: Record<string, string[]> = {};
  for (const [topic, kinds] of store.topics()) topics[topic] = [...kinds].sort();
  return {
    counters: {
      ...counters,
      sent: [...counters.sent],
      dead: { ...counters.dead },
      refused: extra.refused,
    },
    states: store.counts(),
    queuedByPriority,
    queuedByKind,
    inflight: extra.inflight,
    topics,
  };
}
