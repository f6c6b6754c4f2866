// The dashboard's side of the API (daemon/dashboard/api.ts): commands, streams, the live feed.
const TOKEN_KEY = 'hive.token';

/** Takes a login link's ?token= into this browser's storage, and off the address bar. */
export function adoptTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (!token) return;
  localStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete('token');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
}

export function token() {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(value) {
  localStorage.setItem(TOKEN_KEY, value.trim());
}

function headers() {
  const result = { 'content-type': 'application/json' };
  if (token()) result['x-hive-token'] = token();
  return result;
}

/** An error as the daemon sent it: `code` and the specific message. */
export class CommandError extends Error {
  constructor(wire) {
    super(wire.message);
    this.code = wire.code;
  }
}

async function answerOf(response) {
  const body = await response.json().catch(() => null);
  if (!body)
    throw new CommandError({ code: `HTTP_${response.status}`, message: response.statusText });
  if (body.ok === false) throw new CommandError(body.error);
  return body;
}

/** Runs a router command as the web user; resolves with its result or throws CommandError. */
export async function command(cmd, args = {}) {
  const response = await fetch('/api/command', {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ cmd, args }),
  });
  return (await answerOf(response)).result;
}

/** Reads NDJSON lines from a response as they arrive. */
async function* lines(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    const parts = pending.split('\n');
    pending = parts.pop();
    for (const part of parts) if (part) yield JSON.parse(part);
  }
  if (pending) yield JSON.parse(pending);
}

async function streamed(path, body, signal, onLine, throwOnError = true) {
  const response = await fetch(path, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.headers.get('content-type')?.startsWith('application/x-ndjson'))
    return answerOf(response);
  let last;
  for await (const line of lines(response)) {
    last = line;
    onLine(line);
  }
  if (last?.ok === false && throwOnError) throw new CommandError(last.error);
  return last;
}

/** A streaming command (log follow): `onEvent` per event until `signal` aborts. */
export function streamCommand(cmd, args, onEvent, signal) {
  return streamed('/api/command', { cmd, args, stream: true }, signal, (line) => {
    if ('event' in line) onEvent(line.event);
  });
}

/** One chat turn: `onLine` gets the stored user line, each streamed part, then the final line. */
export function chat(to, text, conversation, onLine) {
  return streamed('/api/chat', { to, text, conversation }, undefined, onLine, false);
}

export async function chatHistory(conversation, before) {
  const query = new URLSearchParams({ conversation, limit: '30' });
  if (before) query.set('before', String(before));
  const response = await fetch(`/api/chat/history?${query}`, { headers: headers() });
  const body = await response.json();
  if (body.ok === false) throw new CommandError(body.error);
  return body;
}

/** Opens the live feed; `handlers[name]` gets each view's data. Reconnects by itself. */
export function openFeed(handlers, onState) {
  const query = token() ? `?token=${encodeURIComponent(token())}` : '';
  const source = new EventSource(`/api/events${query}`);
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  for (const [name, handler] of Object.entries(handlers))
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  return source;
}
