/**
 * The dashboard's HTTP API: one endpoint that runs any router command as
 * the web user (so the socket's interceptors audit, refuse while stopping
 * and in degraded modes exactly as for `hive`), the live event feed, and
 * chat with its history.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { HiveError, toWireError } from '../../protocol/errors.ts';
import type { Actor } from '../../protocol/wire.ts';
import type { CommandRouter } from '../ipc/router.ts';
import { readJsonBody, sendJson } from '../web/respond.ts';
import type { WebServer } from '../web/server.ts';
import { type ChatHistory, CONVERSATION_NAME } from './chat-history.ts';
import type { LiveHub } from './live-hub.ts';

const CommandBody = z.strictObject({
  cmd: z.string().min(1).max(100),
  args: z.record(z.string(), z.unknown()).default({}),
  /** Answer as NDJSON: `{event}` lines while the command streams, then the answer. */
  stream: z.boolean().default(false),
});

const ChatBody = z.strictObject({
  to: z.string().min(1).max(200),
  text: z.string().min(1).max(4000),
  conversation: z.string().regex(CONVERSATION_NAME),
});

const HistoryQuery = z.strictObject({
  conversation: z.string().regex(CONVERSATION_NAME),
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(30),
});

/** How long a chat waits for the bot's full reply. */
const CHAT_REPLY_TIMEOUT_MS = 60_000;

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`);
  throw new HiveError('HIVE_WEB_BAD_REQUEST', `${what}: ${issues.join('; ')}`);
}

/** The web user behind a request: `web`, verified by the token when it carried one. */
function webActor(web: WebServer, req: IncomingMessage, url: URL): Actor {
  return { user: 'web', via: 'web', token: web.access.authenticated(req, url) };
}

/** Streams NDJSON lines to the page; `end` writes the final line. */
function ndjson(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
  return {
    line: (value: unknown) => res.write(`${JSON.stringify(value)}\n`),
    end: (value: unknown) => res.end(`${JSON.stringify(value)}\n`),
  };
}

/** Aborted when the page goes away (a closed tab cancels a follow or a chat wait). */
function requestSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}

export interface DashboardApiDeps {
  web: WebServer;
  router: CommandRouter;
  hub: LiveHub;
  chat: ChatHistory;
}

export function registerDashboardApi(deps: DashboardApiDeps): void {
  const { web, router, hub, chat } = deps;

  web.route('/api/events', (_req, res) => hub.attach(res));

  // Access depends on the command: a read needs what any read needs, a mutation the token.
  web.route(
    '/api/command',
    async (req, res, url) => {
      const body = parse(CommandBody, await readJsonBody(req), 'request');
      if (router.get(body.cmd)?.mutating) web.access.checkMutation(req);
      else web.access.checkRead(req, url);
      const actor = webActor(web, req, url);
      const signal = requestSignal(res);
      if (!body.stream) {
        try {
          const result = await router.dispatch(body.cmd, body.args, {
            actor,
            signal,
            emit: () => {},
          });
          sendJson(res, 200, { ok: true, result });
        } catch (error) {
          // The request went through; the command failed: 200 with the error, as on the socket.
          sendJson(res, error instanceof HiveError ? 200 : 500, {
            ok: false,
            error: toWireError(error),
          });
        }
        return;
      }
      const out = ndjson(res);
      try {
        const emit = (event: unknown) => out.line({ event });
        const result = await router.dispatch(body.cmd, body.args, { actor, signal, emit });
        out.end({ ok: true, result });
      } catch (error) {
        out.end({ ok: false, error: toWireError(error) });
      }
    },
    { method: 'POST', access: 'public' },
  );

  web.route('/api/chat/history', async (_req, res, url) => {
    const { token: _token, ...params } = Object.fromEntries(url.searchParams);
    const query = parse(HistoryQuery, params, 'query');
    sendJson(res, 200, await chat.page(query.conversation, query.limit, query.before));
  });

  web.route(
    '/api/chat',
    async (req, res, url) => {
      const body = parse(ChatBody, await readJsonBody(req), 'request');
      await chatTurn(deps, body, {
        actor: webActor(web, req, url),
        signal: requestSignal(res),
        out: ndjson(res),
      });
    },
    { method: 'POST' },
  );
}

/**
 * One chat turn: the user's line is stored, sent to the bot through the
 * messenger (`msg.send` with wait, through the router: audited), each
 * partial reply goes to the page as it arrives, and the full reply (or the
 * error) is stored and ends the answer.
 */
async function chatTurn(
  deps: DashboardApiDeps,
  body: z.infer<typeof ChatBody>,
  request: { actor: Actor; signal: AbortSignal; out: ReturnType<typeof ndjson> },
): Promise<void> {
  const { router, chat } = deps;
  const { out } = request;
  const asked = await chat.append(body.conversation, {
    role: 'user',
    text: body.text,
    at: Date.now(),
  });
  out.line({ line: asked });
  const emit = (event: unknown) => {
    const reply = (event as { reply?: { body?: unknown; from?: string } }).reply;
    if (reply) out.line({ part: replyText(reply.body), from: reply.from });
  };
  try {
    const answer = (await router.dispatch(
      'msg.send',
      {
        to: body.to,
        body: { text: body.text, conversation: body.conversation },
        wait: true,
        waitTimeoutMs: CHAT_REPLY_TIMEOUT_MS,
      },
      { actor: request.actor, signal: request.signal, emit },
    )) as { reply?: { body?: unknown; from?: string }; timedOut?: boolean };
    if (!answer.reply)
      throw new Error(`no reply from ${body.to} within ${CHAT_REPLY_TIMEOUT_MS / 1000} s`);
    const line = await chat.append(body.conversation, {
      role: 'bot',
      text: replyText(answer.reply.body),
      at: Date.now(),
      ...(answer.reply.from ? { from: answer.reply.from } : {}),
    });
    out.end({ ok: true, line });
  } catch (error) {
    const wire = toWireError(error);
    const line = await chat.append(body.conversation, {
      role: 'error',
      text: wire.message,
      at: Date.now(),
    });
    out.end({ ok: false, error: wire, line });
  }
}

/** A reply body's text: `{text}` from the sample chat bot, anything else as JSON. */
function replyText(body: unknown): string {
  const text = (body as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : JSON.stringify(body);
}
