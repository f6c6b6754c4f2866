import type { MessageEnvelope } from '../../protocol/bot.ts';
import type { Reducer } from '../store/event-store.ts';

export type MessageState = 'queued' | 'delivered' | 'acked' | 'expired' | 'dead';
export const MESSAGE_STATES: readonly MessageState[] = [
  'queued',
  'delivered',
  'acked',
  'expired',
  'dead',
];
export const FINAL_MESSAGE_STATES: ReadonlySet<MessageState> = new Set([
  'acked',
  'expired',
  'dead',
]);

/** Why a message is a dead letter (an expired one is in state `expired`, the rest `dead`). */
export type DeadReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

export type DeliveryOutcome = 'acked' | 'nack' | 'timeout' | 'crash' | 'released';

/** One delivery of a message to a bot. */
export interface DeliveryAttempt {
  bot: string;
  /** The deliver record's seq: tells this delivery from a later one. */
  token: number;
  at: number;
  endedAt?: number;
  outcome?: DeliveryOutcome;
  reason?: string;
}

/**
 * Where a message waits: `bot:NAME` (that bot), `kind:KIND` (any one of
 * its bots) or `@NAME` (an operator or the web page, answered in process).
 */
export type Address = `bot:${string}` | `kind:${string}` | `@${string}`;

/** A message as stored in the message store. */
export interface Message extends MessageEnvelope {
  id: string;
  from: string;
  address: Address;
  priority: number;
  createdAt: number;
  ttlMs?: number;
  expiresAt?: number;
  /** 0: unlimited. */
  maxDeliveries: number;
  state: MessageState;
  deliveries: number;
  /** Not delivered before this time (redelivery backoff). */
  availableAt: number;
  updatedAt: number;
  delivery?: { bot: string; token: number; at: number; deadline: number };
  /** The latest deliveries (at most HISTORY_KEPT). */
  history: DeliveryAttempt[];
  dead?: { reason: DeadReason; message: string; at: number };
  ackedBy?: string;
  finishedAt?: number;
}

/** A message in its send record: the parts the sender and the router decided. */
export type NewMessage = Pick<
  Message,
  | 'id'
  | 'from'
  | 'to'
  | 'address'
  | 'topic'
  | 'priority'
  | 'body'
  | 'replyTo'
  | 'expectReply'
  | 'more'
  | 'createdAt'
  | 'ttlMs'
  | 'maxDeliveries'
>;

export type MessageRecord =
  | { t: 'send'; m: NewMessage }
  /** The record's seq is the delivery token. */
  | { t: 'deliver'; id: string; bot: string; at: number; deadline: number }
  | { t: 'ack'; id: string; at: number; by: string }
  /** A failed delivery: queued again at retryAt. */
  | {
      t: 'retry';
      id: string;
      token: number;
      at: number;
      outcome: 'nack' | 'timeout' | 'crash';
      reason: string;
      retryAt: number;
    }
  /** A delivery given up through no fault of the message (a requested stop, a restart): queued now. */
  | { t: 'release'; id: string; token: number; at: number; reason: string }
  /** With `token`: ends that delivery (its outcome), else the message was waiting. */
  | {
      t: 'dead';
      id: string;
      at: number;
      reason: DeadReason;
      message: string;
      token?: number;
      outcome?: 'nack' | 'timeout' | 'crash';
      /** Why that delivery failed (`message` says why the message is dead). */
      cause?: string;
    }
  /** A dead letter sent back by an operator: fresh deliveries and TTL. */
  | { t: 'requeue'; id: string; at: number; by?: string }
  | { t: 'subscribe'; kind: string; topic: string }
  | { t: 'unsubscribe'; kind: string; topic: string }
  | { t: 'prune'; ids: string[] };

export interface MessageStoreState {
  messages: Map<string, Message>;
  /** Topic → bot kinds subscribed to it. */
  topics: Map<string, Set<string>>;
}

/** Deliveries kept in a message's history; older ones are dropped (the count stays). */
export const HISTORY_KEPT = 20;

function closeAttempt(
  message: Message,
  token: number | undefined,
  at: number,
  outcome: DeliveryOutcome,
  reason?: string,
): void {
  if (token === undefined) return;
  const attempt = message.history.findLast((a) => a.token === token);
  if (!attempt || attempt.outcome) return;
  attempt.endedAt = at;
  attempt.outcome = outcome;
  if (reason) attempt.reason = reason;
}

function holdsDelivery(message: Message | undefined, token: number): message is Message {
  return message?.state === 'delivered' && message.delivery?.token === token;
}

function finish(message: Message, state: MessageState, at: number): void {
  message.state = state;
  delete message.delivery;
  message.updatedAt = message.finishedAt = at;
}

/**
 * The message store's fold. Each transition is checked against the current
 * state, so a record that lost a race (an ack for a message that already
 * expired) changes nothing, live and during replay alike.
 */
export function applyMessageRecord(
  state: MessageStoreState,
  record: MessageRecord,
  seq: number,
): Message | undefined {
  switch (record.t) {
    case 'send': {
      if (state.messages.has(record.m.id)) return undefined;
      const m = record.m;
      const message: Message = {
        ...m,
        ...(m.ttlMs !== undefined ? { expiresAt: m.createdAt + m.ttlMs } : {}),
        state: 'queued',
        deliveries: 0,
        availableAt: m.createdAt,
        updatedAt: m.createdAt,
        history: [],
      };
      state.messages.set(message.id, message);
      return message;
    }
    case 'deliver': {
      const message = state.messages.get(record.id);
      if (message?.state !== 'queued') return undefined;
      message.state = 'delivered';
      message.deliveries += 1;
      message.delivery = { bot: record.bot, token: seq, at: record.at, deadline: record.deadline };
      message.updatedAt = record.at;
      message.history.push({ bot: record.bot, token: seq, at: record.at });
      if (message.history.length > HISTORY_KEPT) message.history.shift();
      return message;
    }
    case 'ack': {
      const message = state.messages.get(record.id);
      if (message?.state !== 'queued' && message?.state !== 'delivered') return undefined;
      // A late ack (after a missed deadline) still counts: the receiver did handle it.
      for (const attempt of message.history) {
        if (attempt.bot === record.by && !attempt.outcome) {
          attempt.endedAt = record.at;
          attempt.outcome = 'acked';
        }
      }
      message.ackedBy = record.by;
      finish(message, 'acked', record.at);
      return message;
    }
    case 'retry': {
      const message = state.messages.get(record.id);
      if (!holdsDelivery(message, record.token)) return undefined;
      closeAttempt(message, record.token, record.at, record.outcome, record.reason);
      delete message.delivery;
      message.state = 'queued';
      message.availableAt = record.retryAt;
      message.updatedAt = record.at;
      return message;
    }
    case 'release': {
      const message = state.messages.get(record.id);
      if (!holdsDelivery(message, record.token)) return undefined;
      closeAttempt(message, record.token, record.at, 'released', record.reason);
      delete message.delivery;
      message.state = 'queued';
      message.availableAt = record.at;
      message.updatedAt = record.at;
      return message;
    }
    case 'dead': {
      const message = state.messages.get(record.id);
      if (!message || FINAL_MESSAGE_STATES.has(message.state)) return undefined;
      if (record.token !== undefined && !holdsDelivery(message, record.token)) return undefined;
      const cause = record.cause ?? record.message;
      closeAttempt(message, record.token, record.at, record.outcome ?? 'nack', cause);
      message.dead = { reason: record.reason, message: record.message, at: record.at };
      finish(message, record.reason === 'expired' ? 'expired' : 'dead', record.at);
      return message;
    }
    case 'requeue': {
      const message = state.messages.get(record.id);
      if (message?.state !== 'dead' && message?.state !== 'expired') return undefined;
      message.state = 'queued';
      message.deliveries = 0;
      message.availableAt = record.at;
      message.updatedAt = record.at;
      if (message.ttlMs !== undefined) message.expiresAt = record.at + message.ttlMs;
      delete message.dead;
      delete message.finishedAt;
      return message;
    }
    case 'subscribe':
    case 'unsubscribe': {
      let kinds = state.topics.get(record.topic);
      if (record.t === 'subscribe') {
        if (!kinds) {
          kinds = new Set();
          state.topics.set(record.topic, kinds);
        }
        kinds.add(record.kind);
      } else if (kinds?.delete(record.kind) && kinds.size === 0) {
        state.topics.delete(record.topic);
      }
      return undefined;
    }
    case 'prune': {
      for (const id of record.ids) {
        const message = state.messages.get(id);
        if (message && FINAL_MESSAGE_STATES.has(message.state)) state.messages.delete(id);
      }
      return undefined;
    }
  }
}

export const messageReducer: Reducer<MessageStoreState, MessageRecord> = {
  empty: () => ({ messages: new Map(), topics: new Map() }),
  apply: (state, record, seq) => {
    applyMessageRecord(state, record, seq);
  },
  toSnapshot: (state) => ({
    messages: [...state.messages.values()],
    topics: Object.fromEntries([...state.topics].map(([topic, kinds]) => [topic, [...kinds]])),
  }),
  fromSnapshot: (data) => {
    const state: MessageStoreState = { messages: new Map(), topics: new Map() };
    const snapshot = data as { messages?: Message[]; topics?: Record<string, string[]> } | null;
    for (const message of snapshot?.messages ?? []) state.messages.set(message.id, message);
    for (const [topic, kinds] of Object.entries(snapshot?.topics ?? {}))
      state.topics.set(topic, new Set(kinds));
    return state;
  },
};
