// The chat panel: one conversation per bot or kind, history paged in on scroll.
import { chat, chatHistory } from './api.js';
import { $, h } from './views.js';

let conversation = '';
let oldestSeq;
let more = false;
let loading = false;

const conversationOf = (to) => `web-${to.toLowerCase().replace(/[^a-z0-9._-]/g, '_')}`.slice(0, 64);

/** Seqs on screen: a page that arrives after a turn finished must not show its lines twice. */
const shown = new Set();

function lineElements(lines) {
  const fresh = lines.filter((line) => !shown.has(line.seq));
  for (const line of fresh) shown.add(line.seq);
  return fresh.map((line) =>
    h('div', { class: `chat-line ${line.role}`, 'data-seq': line.seq }, h('span', {}, line.text)),
  );
}

async function loadOlder() {
  if (loading || !more) return;
  loading = true;
  try {
    const log = $('#chat-log');
    const page = await chatHistory(conversation, oldestSeq);
    const before = log.scrollHeight;
    log.prepend(...lineElements(page.lines));
    log.scrollTop += log.scrollHeight - before; // keep the reader where they were
    more = page.more;
    oldestSeq = page.lines[0]?.seq ?? oldestSeq;
  } finally {
    loading = false;
  }
}

/** Switches to the conversation with `to` and shows its newest page. */
export async function openConversation(to) {
  conversation = conversationOf(to);
  const log = $('#chat-log');
  log.replaceChildren();
  shown.clear();
  const page = await chatHistory(conversation);
  log.prepend(...lineElements(page.lines));
  more = page.more;
  oldestSeq = page.lines[0]?.seq;
  log.scrollTop = log.scrollHeight;
}

/** Shows the current conversation again (other pages and scripts may have added to it). */
export function refreshConversation() {
  const to = $('#chat-to').value;
  if (to) void openConversation(to);
}

/** Fills the recipient list: the kinds first, then each bot. */
export function setRecipients(kinds, bots) {
  const select = $('#chat-to');
  const current = select.value;
  const wanted = [...kinds, ...bots];
  if (wanted.join() === [...select.options].map((o) => o.value).join()) return;
  select.replaceChildren(...wanted.map((name) => h('option', { value: name }, name)));
  select.value = wanted.includes(current)
    ? current
    : wanted.includes('chat')
      ? 'chat'
      : (wanted[0] ?? '');
  if (select.value !== current) void openConversation(select.value);
}

async function send(text, report) {
  const log = $('#chat-log');
  const to = $('#chat-to').value;
  let streaming;
  try {
    const last = await chat(to, text, conversation, (line) => {
      if (line.line && !('ok' in line)) log.append(...lineElements([line.line]));
      if (line.part !== undefined) {
        streaming ??= log.appendChild(
          h('div', { class: 'chat-line bot streaming' }, h('span', {}, '')),
        );
        streaming.firstChild.textContent += line.part;
      }
      log.scrollTop = log.scrollHeight;
    });
    streaming?.remove();
    if (last?.line) log.append(...lineElements([last.line]));
    if (last?.ok === false) report(false, `${last.error.code}: ${last.error.message}`);
  } catch (error) {
    streaming?.remove();
    report(false, `${error.code ?? 'error'}: ${error.message}`);
  }
  log.scrollTop = log.scrollHeight;
}

export function setupChat(report) {
  $('#chat-to').addEventListener('change', (event) => void openConversation(event.target.value));
  $('#chat-log').addEventListener('scroll', (event) => {
    if (event.target.scrollTop < 40) void loadOlder();
  });
  $('#chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('#chat-input');
    const text = input.value.trim();
    if (!text || !conversation) return;
    input.value = '';
    void send(text, report);
  });
}
