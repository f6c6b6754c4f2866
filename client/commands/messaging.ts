import type { MessageView, MessengerStats, SchedulerStats } from '../../protocol/messaging.ts';
import {
  type CliCommand,
  defined,
  Exit,
  intOption,
  jsonOption,
  stringOption,
  usageError,
} from '../command.ts';
import { ago, fields, inline, table, time } from '../format.ts';

interface SendAnswer {
  id: string;
  ids: string[];
  reply?: MessageView;
  timedOut?: boolean;
}

function note(m: MessageView): string {
  if (m.dead) return `${m.dead.reason}: ${m.dead.message}`;
  if (m.bot) return `with ${m.bot}`;
  if (m.state === 'queued' && m.availableAt && m.availableAt > Date.now())
    return `redelivery in ${Math.ceil((m.availableAt - Date.now()) / 1000)}s`;
  return m.ackedBy ? `acked by ${m.ackedBy}` : '';
}

function messageTable(messages: MessageView[]): string {
  if (messages.length === 0) return 'no messages';
  return table(
    ['ID', 'STATE', 'P', 'FROM', 'TO', 'DELIVERIES', 'AGE', 'NOTE'],
    messages.map((m) => [
      m.id,
      m.state,
      m.priority,
      m.from,
      m.to === m.address.replace(/^(bot|kind):/, '') ? m.to : `${m.to} (${m.address})`,
      `${m.deliveries}/${m.maxDeliveries || '∞'}`,
      ago(m.createdAt),
      note(m),
    ]),
  );
}

function renderMessage(result: unknown): string {
  const m = result as MessageView;
  const head = fields([
    ['id', m.id],
    ['state', m.state],
    ['from', m.from],
    ['to', `${m.to} (${m.address})`],
    ['topic', m.topic],
    ['priority', `P${m.priority}`],
    ['deliveries', `${m.deliveries} of ${m.maxDeliveries || 'unlimited'}`],
    ['created', `${time(m.createdAt)} (${ago(m.createdAt)})`],
    ['expires', m.expiresAt === undefined ? undefined : time(m.expiresAt)],
    ['with', m.bot ? `${m.bot}, ack by ${time(m.ackDeadline)}` : undefined],
    ['reply to', m.replyTo],
    ['dead', m.dead ? `${m.dead.reason}: ${m.dead.message}` : undefined],
    ['acked by', m.ackedBy],
    ['body', inline(m.body, 2000)],
  ]);
  if (m.history.length === 0) return head;
  const rows = m.history.map((a, i) => [
    i + 1,
    a.bot,
    time(a.at),
    a.endedAt === undefined ? 'out' : `${a.endedAt - a.at}ms`,
    a.outcome ?? '-',
    a.reason ?? '',
  ]);
  return `${head}\n\n${table(['#', 'BOT', 'DELIVERED', 'TOOK', 'OUTCOME', 'REASON'], rows)}`;
}

function renderStats(result: unknown): string {
  const s = result as MessengerStats;
  const c = s.counters;
  const states = Object.entries(s.states)
    .map(([k, v]) => `${k} ${v}`)
    .join('  ');
  const byKind = Object.entries(s.queuedByKind)
    .map(([k, v]) => `${k} ${v}`)
    .join('  ');
  const topics = Object.entries(s.topics)
    .map(([t, kinds]) => `${t} → ${kinds.join(', ')}`)
    .join('; ');
  return [
    `messages: ${states}  (out with bots: ${s.inflight})`,
    `queued by priority: ${s.queuedByPriority.map((n, p) => `P${p} ${n}`).join('  ')}`,
    `queued by kind: ${byKind || '-'}`,
    `since start: sent ${c.sent.reduce((a, b) => a + b, 0)}, delivered ${c.delivered} (${c.redelivered} again), acked ${c.acked}, nacked ${c.nacked}, timeouts ${c.timeouts}, crashes ${c.crashes}, refused ${c.refused}`,
    `dead letters since start: ${Object.entries(c.dead)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ')}`,
    `topics: ${topics || '-'}`,
  ].join('\n');
}

function renderSchedStats(result: unknown): string {
  const s = result as SchedulerStats;
  const head = `policy: ${s.policy}  decisions: ${s.decisions} (${s.explored} exploring)`;
  if (s.rows.length === 0) return `${head}\nno statistics yet`;
  const rows = s.rows.map((r) => [
    r.type,
    r.bot,
    r.score ?? '-',
    r.latencyMs === null ? '-' : `${r.latencyMs.toFixed(1)}ms`,
    `${(r.successRate * 100).toFixed(1)}%`,
    r.done,
    r.failed,
    r.timeouts,
    `${r.inflight}/${r.concurrency}`,
    r.adaptiveLimit === null ? '-' : `${r.adaptiveLimit.toFixed(1)} of ${r.configuredConcurrency}`,
  ]);
  const headers = ['TYPE', 'BOT', 'SCORE', 'LATENCY', 'SUCCESS', 'DONE', 'FAILED', 'TIMEOUTS'];
  return `${head}\n${table([...headers, 'BUSY', 'LIMIT'], rows)}`;
}

export const messagingCommands: CliCommand[] = [
  {
    words: ['msg', 'send'],
    args: 'TO',
    summary: 'Send a message to a bot, a bot kind or a topic (persisted before it is accepted)',
    positionals: [1, 1],
    options: {
      body: { type: 'string', arg: 'JSON', help: 'the message body as JSON' },
      priority: { type: 'string', arg: 'N', help: '0 (most urgent) to 3; default 2' },
      ttl: { type: 'string', arg: 'MS', help: 'dead-letter it (expired) if not delivered in MS' },
      topic: { type: 'string', arg: 'T', help: 'a topic label the receiver sees' },
      wait: { type: 'boolean', help: 'wait for the reply and print it' },
      'wait-timeout': {
        type: 'string',
        arg: 'MS',
        help: 'stop waiting after MS (default 30000; exit 3)',
      },
    },
    async run(ctx, v, p) {
      if (v.body === undefined)
        throw usageError('hive msg send TO --body JSON: --body is required');
      const wait = v.wait === true;
      const args = defined({
        to: p[0],
        body: jsonOption(v, 'body'),
        priority: intOption(v, 'priority'),
        ttlMs: intOption(v, 'ttl', 1),
        topic: stringOption(v, 'topic'),
        wait: wait ? true : undefined,
        waitTimeoutMs: intOption(v, 'wait-timeout', 1),
      });
      const onEvent = (event: unknown) => {
        const part = (event as { reply?: MessageView }).reply;
        if (part) ctx.out(ctx.json ? JSON.stringify(event) : inline(part.body, 2000));
      };
      const answer = (await ctx.call('msg.send', args, { long: wait, onEvent })) as SendAnswer;
      if (ctx.json) ctx.out(JSON.stringify(answer));
      else if (answer.reply) ctx.out(inline(answer.reply.body, 2000));
      else if (answer.timedOut) ctx.err(`${answer.id} sent; no reply (stopped waiting)`);
      else ctx.out(`sent ${answer.ids.join(', ')}`);
      return answer.timedOut ? Exit.Timeout : Exit.Ok;
    },
  },
  {
    words: ['msg', 'ls'],
    summary: 'List messages, newest first',
    options: {
      to: { type: 'string', arg: 'X', help: 'only messages to this bot, kind or topic' },
      state: { type: 'string', arg: 'S', help: 'queued, delivered, acked, expired or dead' },
      limit: { type: 'string', arg: 'N', help: 'at most N messages (default 20)' },
    },
    request: (v) => ({
      cmd: 'msg.ls',
      args: defined({
        to: stringOption(v, 'to'),
        state: stringOption(v, 'state'),
        limit: intOption(v, 'limit', 1),
      }),
    }),
    render: (r) => messageTable((r as { messages: MessageView[] }).messages),
  },
  {
    words: ['msg', 'get'],
    args: 'ID',
    summary: 'Show one message with its deliveries',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'msg.get', args: { id: p[0] } }),
    render: renderMessage,
  },
  {
    words: ['msg', 'dead'],
    summary: 'List dead letters with their reasons; --requeue ID sends one back',
    options: {
      requeue: { type: 'string', arg: 'ID', help: 'send this dead letter back to its inbox' },
      to: { type: 'string', arg: 'X', help: 'only messages to this bot, kind or topic' },
      limit: { type: 'string', arg: 'N', help: 'at most N messages (default 20)' },
    },
    request(v) {
      const requeue = stringOption(v, 'requeue');
      if (requeue) return { cmd: 'msg.requeue', args: { id: requeue } };
      return {
        cmd: 'msg.dead',
        args: defined({ to: stringOption(v, 'to'), limit: intOption(v, 'limit', 1) }),
      };
    },
    render(r) {
      const requeued = r as { id?: string; address?: string; messages?: MessageView[] };
      if (requeued.messages) return messageTable(requeued.messages);
      return `${requeued.id} requeued to ${requeued.address}`;
    },
  },
  {
    words: ['msg', 'stats'],
    summary: 'Message counters, queue depths by priority and kind, topics',
    request: () => ({ cmd: 'msg.stats', args: {} }),
    render: renderStats,
  },
  {
    words: ['sched', 'stats'],
    summary: 'Scheduling statistics and efficiency scores per bot and task type',
    options: { type: { type: 'string', arg: 'T', help: 'only this task type' } },
    request: (v) => ({ cmd: 'sched.stats', args: defined({ type: stringOption(v, 'type') }) }),
    render: renderSchedStats,
  },
];
