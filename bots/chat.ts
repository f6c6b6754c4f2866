/**
 * The sample chat bot (issue 10): answers messages `{text}` with `{text}`,
 * streamed in parts (`more: true`) then the whole reply. By itself it
 * answers by rules (chat-replies.ts). With HIVE_CHAT_LLM_URL set (bot kind
 * `env` in the config) it asks an Ollama-compatible server there instead
 * (POST /api/chat, streamed), model HIVE_CHAT_LLM_MODEL; off by default.
 */
import { replyParts, ruleReply } from './chat-replies.ts';
import { type MessageContext, runBot } from './sdk.ts';

const LLM_URL = process.env.HIVE_CHAT_LLM_URL ?? '';
const LLM_MODEL = process.env.HIVE_CHAT_LLM_MODEL ?? 'llama3.2';
/** Pause between streamed parts of a rule reply, so a page shows it arriving. */
const PART_DELAY_MS = Number(process.env.HIVE_CHAT_PART_DELAY_MS ?? 30);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function textOf(body: unknown): string {
  const text = (body as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : JSON.stringify(body);
}

async function streamRules(text: string, ctx: MessageContext): Promise<string> {
  const reply = ruleReply(text);
  for (const part of replyParts(reply)) {
    await ctx.reply({ text: part }, { more: true });
    await sleep(PART_DELAY_MS);
  }
  return reply;
}

/** Asks the LLM server; each streamed chunk goes on as a partial reply. */
async function streamLlm(text: string, ctx: MessageContext): Promise<string> {
  const response = await fetch(new URL('/api/chat', LLM_URL), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: LLM_MODEL,
      stream: true,
      messages: [{ role: 'user', content: text }],
    }),
    signal: AbortSignal.timeout(55_000),
  });
  if (!response.ok || !response.body) throw new Error(`LLM server answered ${response.status}`);
  let reply = '';
  let pending = '';
  for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const content = (JSON.parse(line) as { message?: { content?: string } }).message?.content;
      if (!content) continue;
      reply += content;
      ctx.extend(60_000);
      await ctx.reply({ text: content }, { more: true });
    }
  }
  return reply;
}

runBot({
  version: '1',
  handlers: { chat: (payload) => ({ text: ruleReply(textOf(payload)) }) },
  onMessage: async (message, ctx) => {
    const text = textOf(message.body);
    const reply = LLM_URL ? await streamLlm(text, ctx) : await streamRules(text, ctx);
    return { text: reply };
  },
});
