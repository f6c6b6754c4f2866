/**
 * The sample chat bot through the dashboard's chat endpoint, without a
 * browser: rule replies stream in parts, and the optional Ollama-compatible
 * adapter streams what a local LLM server sends (a fake one here).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { replyParts, ruleReply } from '../../bots/chat-replies.ts';
import { httpBase, webToken } from '../helpers/browser.ts';
import { fixtureBot, ROOT, startDaemon, waitForReadyBots } from '../helpers/daemon.ts';

interface ChatLine {
  line?: { seq: number; role: string; text: string };
  part?: string;
  ok?: boolean;
  error?: { code: string; message: string };
}

async function chatTurn(t: ExecutionContext, env: Record<string, string>, text: string) {
  const daemon = await startDaemon(t, {
    config: {
      http: { port: 0 },
      bots: {
        chat: fixtureBot(join(ROOT, 'bots', 'chat.ts'), {
          env: { HIVE_CHAT_PART_DELAY_MS: '1', ...env },
        }),
      },
    },
  });
  await waitForReadyBots(daemon, 1, 'chat');
  const response = await fetch(`${await httpBase(daemon)}/api/chat`, {
    method: 'POST',
    headers: { 'x-hive-token': await webToken(daemon) },
    body: JSON.stringify({ to: 'chat', text, conversation: 'c1' }),
  });
  t.regex(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
  return (await response.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ChatLine);
}

test('the rule reply streams in parts, then the whole reply is stored', async (t) => {
  const lines = await chatTurn(t, {}, 'what is 12 * 7');
  t.like(lines[0], { line: { seq: 1, role: 'user', text: 'what is 12 * 7' } });
  const parts = lines.filter((l) => l.part !== undefined).map((l) => l.part);
  t.deepEqual(parts, replyParts(ruleReply('what is 12 * 7')));
  t.like(lines.at(-1), { ok: true, line: { seq: 2, role: 'bot', text: '12 * 7 = 84' } });
});

test('with HIVE_CHAT_LLM_URL the bot streams what an Ollama-compatible server sends', async (t) => {
  const asked: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      asked.push({ path: req.url, body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const content of ['Hel', 'lo from ', 'the model'])
        res.write(`${JSON.stringify({ message: { role: 'assistant', content }, done: false })}\n`);
      res.end(`${JSON.stringify({ message: { role: 'assistant', content: '' }, done: true })}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const lines = await chatTurn(t, { HIVE_CHAT_LLM_URL: url, HIVE_CHAT_LLM_MODEL: 'tiny' }, 'hi');
  t.deepEqual(
    lines.filter((l) => l.part !== undefined).map((l) => l.part),
    ['Hel', 'lo from ', 'the model'],
  );
  t.like(lines.at(-1), { ok: true, line: { role: 'bot', text: 'Hello from the model' } });
  t.like(asked[0], {
    path: '/api/chat',
    body: { model: 'tiny', stream: true, messages: [{ role: 'user', content: 'hi' }] },
  });
});
