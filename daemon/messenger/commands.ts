import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isAddress, isTopic, MESSAGE_PRIORITIES } from '../../protocol/bot.ts';
import type { MessageView } from '../../protocol/messaging.ts';
import { args, type CommandContext, type CommandRouter } from '../ipc/router.ts';
import type { Delivery } from './deliveries.ts';
import { MESSAGE_STATES, type Message, type MessageState } from './message.ts';
import type { Messenger } from './messenger.ts';
import { type MessageObserver, messengerStats } from './observe.ts';
import type { MessageStore } from './store.ts';

/** The `hive msg get --json` shape (a contract: fields are added, never renamed). */
export function messageView(message: Message, delivery?: Delivery, withBody = true): MessageView {
  return {
    id: message.id,
    from: message.from,
    to: message.to,
    address: message.address,
    ...(message.topic !== undefined ? { topic: message.topic } : {}),
    priority: message.priority,
    state: message.state,
    deliveries: message.deliveries,
    maxDeliveries: message.maxDeliveries,
    ...(withBody ? { body: message.body } : {}),
    ...(message.replyTo !== undefined ? { replyTo: message.replyTo } : {}),
    ...(message.expectReply ? { expectReply: true } : {}),
    ...(message.more ? { more: true } : {}),
    createdAt: message.createdAt,
    updatedAt: message.updatedAt,
    ...(message.expiresAt !== undefined ? { expiresAt: message.expiresAt } : {}),
    ...(message.state === 'queued' ? { availableAt: message.availableAt } : {}),
    ...(delivery ? { bot: delivery.bot, ackDeadline: delivery.deadline } : {}),
    ...(message.ackedBy ? { ackedBy: message.ackedBy } : {}),
    ...(message.finishedAt !== undefined ? { finishedAt: message.finishedAt } : {}),
    ...(message.dead ? { dead: message.dead } : {}),
    history: message.history.map(({ token: _token, ...attempt }) => attempt),
  };
}

export interface MessengerCommandDeps {
  messenger: Messenger;
  store: MessageStore;
  observer: MessageObserver;
  kindOf: (bot: string) => string | undefined;
}

const messageId = z.string().min(1).max(64);
/** The states of a dead letter (`msg.dead` lists them; `msg.requeue` sends one back). */
export const DEAD_STATES: ReadonlySet<MessageState> = new Set(['dead', 'expired']);

export function registerMessengerCommands(router: CommandRouter, deps: MessengerCommandDeps): void {
  const { messenger, store } = deps;
  const view = (m: Message, withBody = true) => messageView(m, messenger.delivery(m.id), withBody);

  router.register({
    name: 'msg.send',
    summary: 'Send a message to a bot, a bot kind or a topic; --wait prints the reply',
    mutating: true,
    args: args({
      to: z.string().refine(isAddress, 'a bot name, a bot kind or a topic'),
      body: z.unknown().optional(),
      topic: z.string().refine(isTopic, 'a topic name').optional(),
      priority: z
        .number()
        .int()
        .min(0)
        .max(MESSAGE_PRIORITIES - 1)
        .optional(),
      ttlMs: z.number().int().min(1).optional(),
      wait: z.boolean().optional(),
      waitTimeoutMs: z.number().int().min(1).optional(),
    }),
    handler: (a, ctx) => (a.wait ? sendAndWait(messenger, a, ctx) : sendOnly(messenger, a, ctx)),
  });

  router.register({
    name: 'msg.get',
    summary: 'Show one message with its deliveries',
    mutating: false,
    args: args({ id: messageId }),
    handler: (a) => view(store.require(a.id)),
  });

  router.register({
    name: 'msg.ls',
    summary: 'List messages, newest first',
    mutating: false,
    args: args({
      to: z.string().max(200).optional(),
      state: z.enum(MESSAGE_STATES as [MessageState, ...MessageState[]]).optional(),
      limit: z.number().int().min(1).max(10_000).default(20),
    }),
    handler: (a) => ({
      messages: store
        .list({
          limit: a.limit,
          ...(a.state ? { states: new Set([a.state]) } : {}),
          ...(a.to ? { to: a.to } : {}),
        })
        .map((m) => view(m, false)),
      counts: store.counts(),
    }),
  });

  router.register({
    name: 'msg.dead',
    summary: 'List dead letters (dead and expired messages) with their reasons',
    mutating: false,
    args: args({
      to: z.string().max(200).optional(),
      limit: z.number().int().min(1).max(10_000).default(20),
    }),
    handler: (a) => ({
      messages: store
        .list({ limit: a.limit, states: DEAD_STATES, ...(a.to ? { to: a.to } : {}) })
        .map((m) => view(m, false)),
    }),
  });

  router.register({
    name: 'msg.requeue',
    summary: 'Send a dead or expired message back to its inbox with fresh deliveries',
    mutating: true,
    args: args({ id: messageId }),
    async handler(a, ctx) {
      const message = await messenger.requeue(a.id, ctx.actor.user);
      return { id: message.id, state: message.state, address: message.address };
    },
  });

  router.register({
    name: 'msg.stats',
    summary: 'Message counters since start, queue depths by priority and kind, deliveries out',
    mutating: false,
    args: args({}),
    handler: () =>
      messengerStats(store, deps.observer.counters, {
        inflight: messenger.inflight,
        refused: messenger.intake.refused,
        kindOf: deps.kindOf,
      }),
  });
}

interface SendArgs {
  to: string;
  body?: unknown;
  topic?: string | undefined;
  priority?: number | undefined;
  ttlMs?: number | undefined;
  waitTimeoutMs?: number | undefined;
}

function request(a: SendArgs, from: string, expectReply: boolean) {
  return {
    from,
    to: a.to,
    body: a.body ?? null,
    ...(a.topic !== undefined ? { topic: a.topic } : {}),
    ...(a.priority !== undefined ? { priority: a.priority } : {}),
    ...(a.ttlMs !== undefined ? { ttlMs: a.ttlMs } : {}),
    ...(expectReply ? { expectReply: true } : {}),
  };
}

/** `@op:USER`: where an operator's messages come from (what a reply is addressed to). */
function operator(ctx: CommandContext): `@${string}` {
  return `@op:${ctx.actor.user.replace(/[^\w.-]/g, '_').slice(0, 64) || 'unknown'}`;
}

async function sendOnly(messenger: Messenger, a: SendArgs, ctx: CommandContext) {
  const ids = await messenger.send(request(a, operator(ctx), false));
  return { id: ids[0], ids };
}

/**
 * Sends from an endpoint of its own and waits for the reply: partial
 * replies (`more`) stream as events, the first full one is the answer.
 */
async function sendAndWait(messenger: Messenger, a: SendArgs, ctx: CommandContext) {
  const endpoint = `${operator(ctx)}/${randomBytes(4).toString('hex')}` as const;
  const ids = new Set<string>();
  const early: Message[] = [];
  let done: ((reply: Message) => void) | undefined;
  const replied = new Promise<Message>((resolve) => {
    done = resolve;
  });
  const onReply = (reply: Message) => {
    if (!reply.replyTo || !ids.has(reply.replyTo)) return;
    if (reply.more) ctx.emit({ reply: messageView(reply) });
    else done?.(reply);
  };
  const close = messenger.openEndpoint(endpoint, (reply) => {
    if (ids.size === 0) early.push(reply);
    else onReply(reply);
  });
  try {
    for (const id of await messenger.send(request(a, endpoint, true))) ids.add(id);
    for (const reply of early) onReply(reply);
    const timeout = a.waitTimeoutMs ?? 30_000;
    const stop = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeout)]);
    const aborted = new Promise<undefined>((resolve) =>
      stop.addEventListener('abort', () => resolve(undefined), { once: true }),
    );
    const reply = await Promise.race([replied, aborted]);
    const id = [...ids][0];
    if (!reply) return { id, ids: [...ids], timedOut: true };
    return { id, ids: [...ids], reply: messageView(reply) };
  } finally {
    close();
  }
}
