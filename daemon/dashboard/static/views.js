// Rendering: plain DOM, text only (no HTML from data ever reaches innerHTML).
import { sparkline } from './charts.js';

/** Builds an element: h('td', {class: 'x'}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false)
      element.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) element.append(child);
  return element;
}

export const $ = (selector) => document.querySelector(selector);

export function replaceRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

/** Fills `tbody` with a row per item, or one line that says there are none. */
function rowsOrEmpty(tbody, items, columns, emptyText, toRow, fill = replaceRows) {
  fill(
    tbody,
    items.length === 0
      ? [h('tr', {}, h('td', { colspan: columns, class: 'muted' }, emptyText))]
      : items.map(toRow),
  );
}

/**
 * Updates rows keyed by `data-key` in place when the same keys come in the
 * same order: cells are swapped, but a cell holding a button stays, so a
 * click that lands while a frame arrives is not lost with its button.
 */
export function patchRows(tbody, rows) {
  const old = [...tbody.children];
  const key = (row) => row.getAttribute('data-key');
  const same = old.length === rows.length && rows.every((row, i) => key(row) === key(old[i]));
  if (!same) {
    tbody.replaceChildren(...rows);
    return;
  }
  rows.forEach((row, i) => {
    const target = old[i];
    target.className = row.className;
    const kept = [...target.children];
    [...row.children].forEach((cell, j) => {
      if (!kept[j]?.querySelector('button')) target.replaceChild(cell, kept[j]);
    });
  });
}

const upper = (s) => String(s).toUpperCase();

export function bytes(n) {
  if (typeof n !== 'number') return '-';
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  return `${Math.round(n / 1024)} KB`;
}

export function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const percent = (ratio) => (typeof ratio === 'number' ? `${Math.round(ratio * 100)}%` : '-');

/** Green when working, amber when on the way, red when down. */
export function stateClass(state) {
  if (state === 'ready' || state === 'busy' || state === 'healthy' || state === 'full') return 'ok';
  if (
    state === 'starting' ||
    state === 'stopping' ||
    state === 'degraded' ||
    state === 'restarting'
  )
    return 'warn';
  return 'bad';
}

export function renderDaemon(element, top, info) {
  const daemon = info?.daemon;
  element.replaceChildren(
    h('span', {}, `hived ${daemon?.version ?? ''} · up ${duration(top.daemon.uptimeMs)} · `),
    h('span', {}, `last start ${daemon?.lastStart ?? '?'} · `),
    h(
      'span',
      { class: `state ${stateClass(top.mode.mode)}`, id: 'mode' },
      `mode ${upper(top.mode.mode)}`,
    ),
    h(
      'span',
      { class: 'muted' },
      ` (${top.mode.manual ? 'held by hand: ' : ''}${top.mode.reason}) · `,
    ),
    h(
      'span',
      { class: `state ${stateClass(top.health)}`, id: 'health' },
      `health ${upper(top.health)}`,
    ),
    h(
      'span',
      { class: 'muted' },
      ` · daemon CPU ${percent(top.daemon.cpuRatio)}, RSS ${bytes(top.daemon.rssBytes)}`,
    ),
  );
}

export function renderAlerts(element, alerts) {
  element.replaceChildren(
    ...alerts.map((a) =>
      h('div', { class: 'alert' }, `[${a.severity}] ${a.name} (${a.component}): ${a.summary}`),
    ),
  );
}

/** One bot row; `history` holds its CPU and RSS samples; `actions` the buttons' handlers. */
export function botRow(bot, history, selected, actions) {
  return h(
    'tr',
    {
      'data-bot': bot.name,
      'data-key': bot.name,
      class: selected ? 'selected' : undefined,
      onclick: () => actions.select(bot.name),
    },
    h('td', {}, bot.name),
    h('td', {}, bot.kind),
    h('td', {}, bot.version ?? '-'),
    h('td', { class: `state ${stateClass(bot.state)}`, 'data-state': bot.state }, bot.state),
    h('td', {}, percent(bot.cpuRatio), sparkline(history.cpu)),
    h('td', {}, bytes(bot.rssBytes), sparkline(history.rss)),
    h('td', {}, String(bot.tasksDone)),
    h('td', {}, String(bot.restarts)),
    h(
      'td',
      {},
      h(
        'button',
        {
          type: 'button',
          'data-action': 'restart',
          onclick: (event) => {
            event.stopPropagation();
            actions.restart(bot.name);
          },
        },
        'restart',
      ),
    ),
  );
}

/** A scale control per kind: the current count and an input for the new one. */
export function kindRow(kind, count, onScale) {
  const input = h('input', {
    type: 'number',
    value: count,
    'aria-label': `instances of ${kind}`,
    'data-kind': kind,
  });
  return h(
    'form',
    {
      class: 'kind-row',
      onsubmit: (event) => {
        event.preventDefault();
        onScale(kind, input.value);
      },
    },
    h('strong', {}, kind),
    h('span', { class: 'muted' }, `${count} bots →`),
    input,
    h('button', { type: 'submit', 'data-action': 'scale' }, 'scale'),
  );
}

export function renderQueue(top) {
  replaceRows(
    $('#queue-states tbody'),
    Object.entries(top.queue.counts).map(([state, n]) =>
      h('tr', {}, h('td', {}, state), h('td', {}, String(n))),
    ),
  );
  replaceRows(
    $('#queue-kinds tbody'),
    top.queue.kinds.map((k) =>
      h(
        'tr',
        {},
        h('td', {}, k.kind),
        h('td', {}, String(k.queued)),
        h('td', {}, String(k.running)),
        h('td', {}, `${k.oldestAgeSeconds} s`),
      ),
    ),
  );
}

export function renderDead(answer, onRequeue) {
  rowsOrEmpty($('#dead-table tbody'), answer.tasks ?? [], 5, 'no dead tasks', (t) =>
    h(
      'tr',
      { 'data-task': t.id },
      h('td', {}, t.id),
      h('td', {}, t.type),
      h('td', {}, t.error ? `${t.error.reason}: ${t.error.message}` : '-'),
      h('td', {}, String(t.attempts ?? '-')),
      h('td', {}, h('button', { type: 'button', onclick: () => onRequeue(t.id) }, 'requeue')),
    ),
  );
}

/** Where a dead message was going: its inbox, and the topic it was sent to. */
const inboxOf = (m) => (m.topic === undefined ? m.address : `${m.address} (topic ${m.topic})`);

/**
 * The messenger's dead letters (`msg.dead`), ages as of `now`. Rows are patched in place
 * (the ages tick on every status frame) so a requeue click is not lost to a redraw.
 */
export function renderDeadMessages(messages, now, onRequeue) {
  const tbody = $('#dead-messages-table tbody');
  const toRow = (m) =>
    h(
      'tr',
      { 'data-message': m.id, 'data-key': m.id },
      h('td', {}, m.id),
      h('td', {}, inboxOf(m)),
      h('td', {}, m.from),
      h('td', {}, `P${m.priority}`),
      h('td', {}, `${m.deliveries} of ${m.maxDeliveries}`),
      h('td', { class: 'state bad', 'data-reason': m.dead?.reason }, m.dead?.reason ?? m.state),
      h('td', {}, m.dead?.message ?? '-'),
      h('td', {}, duration(Math.max(0, now - (m.dead?.at ?? m.updatedAt)))),
      h('td', {}, h('button', { type: 'button', onclick: () => onRequeue(m.id) }, 'requeue')),
    );
  rowsOrEmpty(tbody, messages, 9, 'no dead messages', toRow, patchRows);
}

const fixed = (n, digits = 3) => (typeof n === 'number' ? n.toFixed(digits) : '-');

function poolRow(p) {
  return h(
    'tr',
    {},
    ...[
      p.pool,
      p.version,
      p.bots.length,
      p.done,
      p.failed,
      p.timeouts,
      p.crashes,
      fixed(p.errorRate),
      fixed(p.timeoutRate),
      p.p95Ms ?? '-',
    ].map((v) => h('td', {}, String(v))),
  );
}

/** One deployment (issue 8's DeploymentView) with its operator buttons. */
export function deploymentCard(d, onAction) {
  const button = (action) =>
    h('button', { type: 'button', onclick: () => onAction(action, d.kind) }, action);
  const verdict = d.verdict
    ? h(
        'p',
        { class: `verdict-${d.verdict.result}` },
        `verdict ${d.verdict.result}: ${d.verdict.reason}`,
      )
    : h('p', { class: 'muted' }, 'no verdict yet');
  return h(
    'div',
    { class: 'deployment', 'data-kind': d.kind },
    h('h2', {}, `${d.kind}: ${d.strategy} ${upper(d.state)}`),
    h(
      'p',
      {},
      `step ${d.step + 1} of ${d.steps.length} (${d.steps.join(' → ')} %) · weight target ${d.weight.target}%, achieved ${d.weight.achieved === null ? '-' : `${d.weight.achieved}%`}`,
    ),
    d.reason ? h('p', { class: 'muted' }, d.reason) : null,
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'pool',
            'version',
            'bots',
            'done',
            'failed',
            'timeouts',
            'crashes',
            'error rate',
            'timeout rate',
            'p95 ms',
          ].map((c) => h('th', {}, c)),
        ),
      ),
      h('tbody', {}, poolRow(d.green), poolRow(d.blue)),
    ),
    verdict,
    h('div', {}, button('pause'), button('resume'), button('promote'), button('abort')),
  );
}

export function renderBackups(answer, onVerify) {
  const backups = [...(answer.backups ?? [])].reverse();
  const checked = (c) => (c.ok ? 'ok' : `FAILED: ${c.problems.join('; ')}`);
  rowsOrEmpty($('#backups-table tbody'), backups, 6, 'no backups yet', (b) =>
    h(
      'tr',
      { 'data-backup': b.id },
      h('td', {}, b.id),
      h('td', {}, b.kind),
      h('td', {}, b.createdAt ?? '-'),
      h('td', {}, bytes(b.sizeBytes)),
      h('td', {}, b.check ? `${checked(b.check)} (${b.check.at})` : '-'),
      h('td', {}, h('button', { type: 'button', onclick: () => onVerify(b.id) }, 'verify')),
    ),
  );
}

/** The audit trail, newest first, keeping the entries `filter` matches. */
export function renderAudit(entries, filter) {
  const needle = filter.trim().toLowerCase();
  const shown = [...entries].reverse().filter(
    (e) =>
      !needle ||
      [e.actor, e.action, e.target, e.reason, e.result].some((v) =>
        String(v ?? '')
          .toLowerCase()
          .includes(needle),
      ),
  );
  replaceRows(
    $('#audit-table tbody'),
    shown.map((e) =>
      h(
        'tr',
        {},
        h('td', {}, String(e.seq)),
        h('td', {}, e.time),
        h('td', {}, `${e.actor} (${e.actorType})`),
        h('td', {}, e.action),
        h('td', {}, e.target ?? ''),
        h(
          'td',
          { class: e.result === 'error' || e.result === 'refused' ? 'state bad' : '' },
          e.result ?? '',
        ),
        h('td', {}, e.reason ?? ''),
      ),
    ),
  );
}
