/**
 * The dashboard's HTTP security without a browser (issue 10, "Security"):
 * the token file, reads beyond loopback, and the live hub's coalescing.
 */
import { statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import { ChatHistory } from '../../daemon/dashboard/chat-history.ts';
import { LiveHub } from '../../daemon/dashboard/live-hub.ts';
import { isLoopback } from '../../daemon/web/access.ts';
import { echoBot, runHive, startDaemon, tempDir, waitFor } from '../helpers/daemon.ts';

test('beyond loopback every request needs the token; hive web token and url print it; the file is 0600', async (t) => {
  const daemon = await startDaemon(t, {
    config: { http: { host: '0.0.0.0', port: 0 }, bots: { echo: echoBot() } },
  });
  const port = await waitFor(async () => {
    const { http } = (await daemon.call('status')) as {
      http: { listening: { port: number } | null };
    };
    return http.listening?.port;
  });
  const base = `http://127.0.0.1:${port}`;
  t.is(statSync(join(daemon.stateDir, 'web-token')).mode & 0o777, 0o600);
  const token = await runHive(['--state-dir', daemon.stateDir, 'web', 'token']);
  t.is(token.code, 0, token.stderr);
  const secret = token.stdout.trim();
  t.regex(secret, /^[0-9a-f]{64}$/);
  const url = await runHive(['--state-dir', daemon.stateDir, 'web', 'url', '--json']);
  const answer = JSON.parse(url.stdout) as { loginUrl: string; token: string };
  t.is(answer.token, secret);
  t.true(answer.loginUrl.endsWith(`:${port}/?token=${secret}`));

  // The page's own files load without the token (it asks for one); the API and /metrics do not.
  t.is((await fetch(`${base}/`)).status, 200);
  for (const path of ['/api/events', '/metrics', '/api/chat/history?conversation=x']) {
    const refused = await fetch(`${base}${path}`);
    t.is(refused.status, 401, path);
    t.is(
      ((await refused.json()) as { error: { code: string } }).error.code,
      'HIVE_WEB_TOKEN_REQUIRED',
    );
  }
  const read = await fetch(`${base}/api/command`, {
    method: 'POST',
    body: JSON.stringify({ cmd: 'bots.ls' }),
  });
  t.is(read.status, 401, 'a read through the command endpoint too');
  t.is(
    (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${secret}` } })).status,
    200,
  );
  const events = await fetch(`${base}/api/events?token=${secret}`);
  t.is(events.status, 200);
  t.regex(events.headers.get('content-type') ?? '', /^text\/event-stream/);
  await events.body?.cancel();
  const wrong = await fetch(`${base}/api/command`, {
    method: 'POST',
    headers: { 'x-hive-token': secret.replace(/.$/, (c) => (c === '0' ? '1' : '0')) },
    body: JSON.stringify({ cmd: 'bots.ls' }),
  });
  t.is(wrong.status, 401, 'a wrong token is no token');
  const bad = await fetch(`${base}/api/command`, {
    method: 'POST',
    headers: { 'x-hive-token': secret },
    body: '{"cmd": ',
  });
  t.is(bad.status, 400);
  t.is(((await bad.json()) as { error: { code: string } }).error.code, 'HIVE_WEB_BAD_REQUEST');
});

test('loopback names', (t) => {
  for (const host of ['127.0.0.1', '127.3.4.5', 'localhost', '::1', '[::1]'])
    t.true(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'])
    t.false(isLoopback(host), host);
});

/** A stand-in for an HTTP response: collects what the hub writes. */
function fakeResponse() {
  const chunks: string[] = [];
  const listeners: (() => void)[] = [];
  const res = {
    writableLength: 0,
    writableEnded: false,
    destroyed: false,
    writeHead: () => res,
    write: (chunk: string | Buffer) => chunks.push(chunk.toString()) > 0,
    end: () => {
      res.writableEnded = true;
      for (const listener of listeners) listener();
    },
    destroy: () => res.end(),
    once: (_event: string, listener: () => void) => listeners.push(listener),
  };
  return {
    res: res as unknown as ServerResponse,
    frames: () => chunks.filter((c) => c.startsWith('event:')),
  };
}

test('the live hub reads a source once per change for every page, folds bursts, and subscribes only while pages are open', async (t) => {
  let reads = 0;
  let subscribed = 0;
  let poke: () => void = () => {};
  const hub = new LiveHub({ minGapMs: 50 });
  hub.add({
    name: 'counter',
    read: () => ++reads,
    subscribe: (onChange) => {
      subscribed += 1;
      poke = onChange;
      return () => {
        subscribed -= 1;
      };
    },
  });
  t.is(subscribed, 0, 'nothing subscribed without pages');
  const pages = Array.from({ length: 20 }, () => fakeResponse());
  for (const page of pages) hub.attach(page.res);
  t.is(subscribed, 1);
  await waitFor(() => pages.every((p) => p.frames().length === 1), { what: 'the first frame' });
  const before = reads;
  for (let i = 0; i < 100; i++) poke();
  await waitFor(() => pages.every((p) => p.frames().length === 2), { what: 'one folded frame' });
  t.is(reads - before, 1, 'one read for 100 changes and 20 pages');
  t.is(pages[0]?.frames()[1], `event: counter\ndata: ${reads}\n\n`);
  hub.close();
  t.is(subscribed, 0, 'unsubscribed when the last page went');
});

test('chat history pages backwards from the newest and survives a torn last line', async (t) => {
  const dir = tempDir(t);
  const history = new ChatHistory(dir);
  for (let i = 1; i <= 65; i++) await history.append('c1', { role: 'user', text: `m${i}`, at: i });
  const newest = await history.page('c1', 30);
  t.deepEqual(
    newest.lines.map((l) => l.seq),
    Array.from({ length: 30 }, (_, i) => 36 + i),
  );
  t.true(newest.more);
  const older = await history.page('c1', 30, 36);
  t.is(older.lines[0]?.seq, 6);
  const oldest = await history.page('c1', 30, 6);
  t.deepEqual(
    oldest.lines.map((l) => l.text),
    ['m1', 'm2', 'm3', 'm4', 'm5'],
  );
  t.false(oldest.more);
  const { appendFileSync } = await import('node:fs');
  appendFileSync(join(dir, 'c1.jsonl'), '{"seq":66,"role":"us');
  const reopened = new ChatHistory(dir);
  t.is((await reopened.page('c1', 100)).lines.length, 65);
  t.is((await reopened.append('c1', { role: 'bot', text: 'next', at: 66 })).seq, 66);
  const again = await new ChatHistory(dir).page('c1', 2);
  t.deepEqual(
    again.lines.map((l) => [l.seq, l.text]),
    [
      [65, 'm65'],
      [66, 'next'],
    ],
  );
});
