// The dashboard: live views from the daemon's event feed, actions through its command router.
import { adoptTokenFromUrl, command, openFeed, setToken, streamCommand, token } from './api.js';
import { liveChart, remember } from './charts.js';
import { refreshConversation, setRecipients, setupChat } from './chat.js';
import {
  $,
  botRow,
  deploymentCard,
  h,
  kindRow,
  patchRows,
  renderAlerts,
  renderAudit,
  renderBackups,
  renderDaemon,
  renderDead,
  renderDeadMessages,
  renderQueue,
} from './views.js';

const VIEWS = ['bots', 'queue', 'deployments', 'backups', 'audit', 'chat'];

const state = {
  top: null,
  status: null,
  audit: [],
  /** The messenger's dead letters, as the last `deadMessages` frame had them. */
  deadMessages: [],
  selected: null,
  /** Per bot: CPU and RSS samples for the sparklines and the detail chart. */
  history: new Map(),
  lastDone: null,
  logFollow: null,
  charts: {},
  kindsShape: '',
};

/** Shows the outcome of an action: success, or the daemon's specific error. */
function report(ok, text) {
  const line = h('span', { class: ok ? 'ok' : 'error' }, ok ? `✓ ${text}` : `✗ ${text}`);
  $('#feedback').replaceChildren(line);
}

/** Runs an operator action and reports it; resolves with the result (undefined on error). */
async function act(label, cmd, args) {
  try {
    const result = await command(cmd, args);
    report(true, `${label}: done`);
    return result;
  } catch (error) {
    report(false, `${label}: ${error.code}: ${error.message}`);
    return undefined;
  }
}

function showView(name) {
  const view = VIEWS.includes(name) ? name : 'bots';
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== view;
  for (const link of document.querySelectorAll('nav a[data-view]'))
    link.classList.toggle('active', link.getAttribute('data-view') === view);
  if (location.hash !== `#${view}`) history.replaceState(null, '', `#${view}`);
  if (view === 'queue') showDeadMessages();
  if (view === 'deployments') void loadDeployments();
  if (view === 'chat') refreshConversation();
  document.title = `hive · ${$(`#view-${view}`).dataset.title}`;
}

// ---- bots ----

function historyOf(name) {
  let history = state.history.get(name);
  if (!history) {
    history = { cpu: [], rss: [] };
    state.history.set(name, history);
  }
  return history;
}

const botActions = {
  select: (name) => selectBot(name),
  restart: (name) => void act(`restart ${name}`, 'bots.restart', { name }),
};

function renderBots() {
  const top = state.top;
  patchRows(
    $('#bots-table tbody'),
    top.bots.map((bot) =>
      botRow(bot, historyOf(bot.name), bot.name === state.selected, botActions),
    ),
  );
  const kinds = new Map();
  for (const bot of top.bots) kinds.set(bot.kind, (kinds.get(bot.kind) ?? 0) + 1);
  for (const { kind } of top.queue.kinds) if (!kinds.has(kind)) kinds.set(kind, 0);
  // Rebuilt only when the kinds or their counts change, and never under the user's hands.
  const shape = [...kinds].join();
  const typing =
    document.activeElement?.tagName === 'INPUT' && $('#kinds').contains(document.activeElement);
  if (shape !== state.kindsShape && !typing) {
    state.kindsShape = shape;
    $('#kinds').replaceChildren(
      ...[...kinds].map(([kind, count]) =>
        kindRow(
          kind,
          count,
          (k, value) =>
            void act(`scale ${k} to ${value}`, 'bots.scale', { kind: k, instances: Number(value) }),
        ),
      ),
    );
  }
  setRecipients(
    [...kinds.keys()],
    top.bots.map((b) => b.name),
  );
}

function selectBot(name) {
  state.selected = name;
  state.logFollow?.abort();
  const detail = $('#bot-detail');
  detail.hidden = !name;
  renderBots();
  if (!name) return;
  $('#bot-detail-title').textContent = name;
  state.charts.bot ??= liveChart($('#bot-chart'), [
    { label: 'CPU %', stroke: '#c62828' },
    { label: 'RSS MB', stroke: '#3a6ea5' },
  ]);
  state.charts.bot.reset();
  const log = $('#bot-log');
  log.textContent = '';
  const follow = new AbortController();
  state.logFollow = follow;
  streamCommand(
    'logs.tail',
    { part: 'bots', lines: 200, follow: true },
    (line) => {
      const text = JSON.stringify(line);
      if (!text.includes(name)) return;
      log.textContent += `${line.time ?? ''} ${line.level ?? ''} ${line.msg ?? line.message ?? text}\n`;
      log.scrollTop = log.scrollHeight;
    },
    follow.signal,
  ).catch((error) => {
    if (error.name !== 'AbortError') log.textContent += `(log tail stopped: ${error.message})\n`;
  });
}

function moveSelection(step) {
  const names = state.top?.bots.map((b) => b.name) ?? [];
  if (names.length === 0) return;
  const at = names.indexOf(state.selected);
  selectBot(names[(at + step + names.length) % names.length]);
}

// ---- dead messages ----

function showDeadMessages() {
  renderDeadMessages(
    state.deadMessages,
    Date.now(),
    (id) => void act(`requeue message ${id}`, 'msg.requeue', { id }),
  );
}

function onDeadMessages(answer) {
  state.deadMessages = answer.messages ?? [];
  showDeadMessages();
}

// ---- live feed ----

function onTop(top) {
  const previous = state.top;
  state.top = top;
  renderDaemon($('#daemon'), top, state.status);
  renderAlerts($('#alerts'), top.alerts);
  const sampled =
    !previous || previous.daemon.cpuRatio !== top.daemon.cpuRatio || previous.at + 1000 < top.at;
  if (sampled) {
    for (const bot of top.bots) {
      const history = historyOf(bot.name);
      remember(history.cpu, bot.cpuRatio);
      remember(history.rss, bot.rssBytes);
    }
  }
  renderBots();
  renderQueue(top);
  // The ages tick while the queue view is open.
  if (!$('#view-queue').hidden) showDeadMessages();
  const selected = top.bots.find((b) => b.name === state.selected);
  if (selected && sampled)
    state.charts.bot?.push(
      top.at,
      (selected.cpuRatio ?? 0) * 100,
      (selected.rssBytes ?? 0) / 2 ** 20,
    );
  chartQueue(top);
  const mode = top.mode.manual ? top.mode.mode : 'auto';
  if (document.activeElement !== $('#mode-select')) $('#mode-select').value = mode;
}

function chartQueue(top) {
  const done = top.queue.counts.done ?? 0;
  const last = state.lastDone;
  state.lastDone = { at: top.at, done };
  state.charts.throughput ??= liveChart($('#throughput-chart'), [
    { label: 'done/s', stroke: '#1f8a4c' },
  ]);
  state.charts.latency ??= liveChart($('#latency-chart'), [
    { label: 'oldest queued (s)', stroke: '#b26a00' },
  ]);
  if (!last || top.at - last.at < 900) return;
  state.charts.throughput.push(top.at, ((done - last.done) * 1000) / (top.at - last.at));
  state.charts.latency.push(top.at, Math.max(0, ...top.queue.kinds.map((k) => k.oldestAgeSeconds)));
}

function onStatus(status) {
  state.status = status;
  if (state.top) renderDaemon($('#daemon'), state.top, status);
}

// ---- deployments (issue 8) ----

function renderDeployments(answer) {
  const element = $('#deployments');
  if (!answer || answer.unavailable) {
    element.replaceChildren(
      h('p', { class: 'muted', id: 'deployments-unavailable' }, 'deployments: not available'),
    );
    return;
  }
  const deployments = answer.deployments ?? [];
  element.replaceChildren(
    ...(deployments.length === 0
      ? [h('p', { class: 'muted' }, 'no deployments')]
      : deployments.map((d) =>
          deploymentCard(
            d,
            (action, kind) =>
              void act(`${action} ${kind}`, `deploy.${action}`, deployArgs(action, kind)),
          ),
        )),
  );
}

/** An abort needs a reason (it is audited and shown by hive deploy status). */
function deployArgs(action, kind) {
  return action === 'abort' ? { kind, reason: 'aborted from the web dashboard' } : { kind };
}

async function loadDeployments() {
  try {
    renderDeployments(await command('deploy.status'));
  } catch (error) {
    if (error.code === 'HIVE_IPC_UNKNOWN_COMMAND') renderDeployments(undefined);
    else report(false, `deployments: ${error.code}: ${error.message}`);
  }
}

// ---- setup ----

function setupActions() {
  $('#bot-detail-close').addEventListener('click', () => selectBot(null));
  $('#mode-select').addEventListener('change', (event) => {
    const mode = event.target.value;
    if (mode === 'auto') void act('mode auto', 'mode.auto', {});
    else if (mode)
      void act(`mode ${mode}`, 'mode.set', { mode, reason: 'set from the web dashboard' });
  });
  $('#submit-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const type = $('#submit-type').value.trim();
    const raw = $('#submit-payload').value.trim();
    let payload;
    try {
      payload = raw ? JSON.parse(raw) : undefined;
    } catch {
      report(false, 'submit: the payload is not JSON');
      return;
    }
    void act(`submit ${type}`, 'task.submit', {
      type,
      ...(payload === undefined ? {} : { payload }),
    });
  });
  $('#backup-create').addEventListener(
    'click',
    () => void act('create backup', 'backup.create', {}),
  );
  $('#audit-verify').addEventListener('click', async () => {
    const result = await act('verify audit trail', 'audit.verify', {});
    if (result)
      report(
        result.ok !== false,
        `audit trail: ${result.ok === false ? 'DAMAGED' : 'intact'} (${result.entries ?? '?'} entries checked)`,
      );
  });
  $('#audit-filter').addEventListener('input', () =>
    renderAudit(state.audit, $('#audit-filter').value),
  );
  $('#help-button').addEventListener('click', () => $('#help').showModal());
  $('#login').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken($('#token-input').value);
    location.reload();
  });
}

function focusIn(view, selector) {
  showView(view);
  $(selector).focus();
}

function onKey(event) {
  const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName);
  if (event.key === 'Escape') {
    if (typing) /** @type {HTMLElement} */ (document.activeElement).blur();
    else selectBot(null);
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const index = Number(event.key);
  if (index >= 1 && index <= VIEWS.length) return showView(VIEWS[index - 1]);
  const actions = {
    '?': () => $('#help').showModal(),
    '/': () => focusIn('audit', '#audit-filter'),
    c: () => focusIn('chat', '#chat-input'),
    j: () => moveSelection(1),
    k: () => moveSelection(-1),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

function start() {
  adoptTokenFromUrl();
  setupActions();
  setupChat(report);
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', () => showView(location.hash.slice(1)));
  showView(location.hash.slice(1));
  $('#login').hidden = Boolean(token());
  openFeed(
    {
      top: onTop,
      status: onStatus,
      dead: (answer) => renderDead(answer, (id) => void act(`requeue ${id}`, 'task.retry', { id })),
      deadMessages: onDeadMessages,
      backups: (answer) =>
        renderBackups(answer, (id) => void act(`verify ${id}`, 'backup.verify', { id })),
      audit: (answer) => {
        state.audit = answer.entries ?? [];
        renderAudit(state.audit, $('#audit-filter').value);
      },
      deployments: renderDeployments,
    },
    (live) => {
      const pill = $('#connection');
      pill.textContent = live ? 'live' : 'reconnecting…';
      pill.classList.toggle('live', live);
      if (!live && !token()) $('#login').hidden = false;
    },
  );
}

start();
