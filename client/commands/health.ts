import type {
  AlertView,
  HealthView,
  ModeView,
  SignalView,
  TopFrame,
} from '../../protocol/health.ts';
import { type CliCommand, Exit, stringOption, usageError } from '../command.ts';
import { ago, bytes, duration, table } from '../format.ts';

const MODE_WORDS = ['full', 'degraded', 'maintenance'];

const upper = (s: string) => s.toUpperCase();
const pct = (ratio: number | null) => (ratio === null ? '-' : `${Math.round(ratio * 100)}%`);

function signalValue(s: SignalView): string {
  if (s.value === null) return '-';
  if (s.unit === 'ratio') return s.value.toFixed(3);
  if (s.unit === 'seconds') return `${s.value} s`;
  return String(s.value);
}

export function renderMode(view: ModeView): string {
  const lines = [
    `mode: ${upper(view.mode)}${view.manual ? ' (held by hand)' : ' (automatic)'} since ${ago(view.since)}`,
    `  why: ${view.setBy.reason} (${view.setBy.actor})`,
  ];
  if (view.manual)
    lines.push(
      `  the signals alone say ${upper(view.auto)}; hive mode auto hands the mode back to them`,
    );
  if (view.nextStepDown)
    lines.push(
      `  steps down to ${upper(view.nextStepDown.to)} in ${duration(Math.max(0, view.nextStepDown.at - Date.now()))} if the signals stay calm`,
    );
  if (view.paused.length > 0) lines.push(`  paused: ${view.paused.join(', ')}`);
  const signals = table(
    ['SIGNAL', 'VALUE', 'SOURCE', 'ENTER', 'EXIT', 'HARD', 'TRIGGER', 'IN A ROW'],
    view.signals.map((s) => [
      s.kind ? `${s.name}[${s.kind}]` : s.name,
      signalValue(s),
      s.source ?? '-',
      s.enterAt,
      s.exitAt,
      s.hardAt ?? '-',
      s.trigger ? 'yes' : 'no',
      s.consecutive,
    ]),
  );
  const kinds = table(
    ['KIND', 'QUEUED', 'OLDEST', 'SHED', 'ROUTED TO'],
    view.kinds.map((k) => [
      k.kind,
      k.queued,
      `${k.oldestAgeSeconds} s`,
      pct(k.shedShare),
      k.routedTo ? `${k.routedTo.kind} (${k.routedTo.reason})` : '-',
    ]),
  );
  const s = view.settings;
  const settings = `every ${s.intervalMs} ms; ${s.consecutiveSamples} samples in a row to escalate; ${duration(s.transitionPeriodMs)} calm and ${duration(s.minDwellMs)} in a mode to step down`;
  return `${lines.join('\n')}\n\n${signals}\n\n${kinds}\n\n${settings}`;
}

export function renderHealth(view: HealthView): string {
  const components = table(
    ['COMPONENT', 'STATE', 'ALERTS'],
    view.components.map((c) => [c.name, upper(c.state), c.alerts.join(', ') || '-']),
  );
  const firing = view.firing.map(
    (a) => `  [${a.severity}] ${a.name} (${a.component}): ${a.summary}`,
  );
  return [
    `health: ${upper(view.state)}${view.pending > 0 ? ` (${view.pending} alerts pending)` : ''}`,
    '',
    components,
    ...(firing.length > 0 ? ['', 'firing:', ...firing] : []),
  ].join('\n');
}

export function renderAlerts(alerts: AlertView[]): string {
  if (alerts.length === 0) return 'no alerts';
  return table(
    ['NAME', 'STATE', 'SEVERITY', 'COMPONENT', 'VALUE', 'SINCE', 'SUMMARY'],
    alerts.map((a) => [
      a.name,
      a.state,
      a.severity,
      a.component,
      a.value,
      a.resolvedAt ? `resolved ${ago(a.resolvedAt)}` : a.activeSince ? ago(a.activeSince) : '-',
      a.summary,
    ]),
  );
}

export function renderTop(frame: TopFrame): string {
  const d = frame.daemon;
  const mode = `${upper(frame.mode.mode)}${frame.mode.manual ? ' (by hand)' : ''}`;
  const head = `hived pid ${d.pid}  up ${duration(d.uptimeMs)}  cpu ${pct(d.cpuRatio)}  rss ${bytes(d.rssBytes)}  mode ${mode}  health ${upper(frame.health)}`;
  const why = frame.mode.mode === 'full' ? '' : `\n  ${frame.mode.reason}`;
  const bots = table(
    ['BOT', 'KIND', 'STATE', 'PID', 'CPU', 'RSS', 'BUSY', 'DONE', 'RESTARTS'],
    frame.bots.map((b) => [
      b.name,
      b.kind,
      b.state,
      b.pid,
      pct(b.cpuRatio),
      bytes(b.rssBytes),
      `${b.inflight}/${b.concurrency}`,
      b.tasksDone,
      b.restarts,
    ]),
  );
  const counts = Object.entries(frame.queue.counts)
    .map(([state, n]) => `${state} ${n}`)
    .join('  ');
  const kinds = table(
    ['KIND', 'QUEUED', 'RUNNING', 'OLDEST'],
    frame.queue.kinds.map((k) => [k.kind, k.queued, k.running, `${k.oldestAgeSeconds} s`]),
  );
  const alerts =
    frame.alerts.length === 0
      ? 'alerts: none firing'
      : `alerts:\n${frame.alerts.map((a) => `  [${a.severity}] ${a.name} (${a.component}): ${a.summary}`).join('\n')}`;
  return `${head}${why}\n\n${bots}\n\nqueue: ${counts}\n${kinds}\n\n${alerts}`;
}

export const healthCommands: CliCommand[] = [
  {
    words: ['mode'],
    summary: 'The mode (FULL, DEGRADED, MAINTENANCE), who or what set it, the signals behind it',
    request: () => ({ cmd: 'mode.get', args: {} }),
    render: (r) => renderMode(r as ModeView),
  },
  {
    words: ['mode', 'set'],
    args: 'MODE',
    summary: 'Hold a mode (full, degraded, maintenance) until hive mode auto; --reason R',
    positionals: [1, 1],
    options: { reason: { type: 'string', arg: 'R', help: 'why (kept in the audit trail)' } },
    request(v, p) {
      const mode = p[0] ?? '';
      if (!MODE_WORDS.includes(mode))
        throw usageError(
          `mode must be one of ${MODE_WORDS.join(', ')}, got ${JSON.stringify(mode)}`,
        );
      const reason = stringOption(v, 'reason');
      if (!reason) throw usageError('hive mode set needs --reason R (it goes to the audit trail)');
      return { cmd: 'mode.set', args: { mode, reason } };
    },
    render: (r) => renderMode(r as ModeView),
  },
  {
    words: ['mode', 'auto'],
    summary: 'End a mode held by hand: the signals decide again',
    options: { reason: { type: 'string', arg: 'R', help: 'why (kept in the audit trail)' } },
    request: (v) => {
      const reason = stringOption(v, 'reason');
      return { cmd: 'mode.auto', args: reason ? { reason } : {} };
    },
    render: (r) => renderMode(r as ModeView),
  },
  {
    words: ['health'],
    summary: 'Overall health (HEALTHY, DEGRADED, CRITICAL), each component, firing alerts',
    request: () => ({ cmd: 'health.get', args: {} }),
    render: (r) => renderHealth(r as HealthView),
  },
  {
    words: ['alerts', 'ls'],
    summary: 'Pending and firing alerts (--all: resolved ones too)',
    options: { all: { type: 'boolean', help: 'include resolved alerts' } },
    request: (v) => ({ cmd: 'alerts.ls', args: { all: v.all === true } }),
    render: (r) => renderAlerts((r as { alerts: AlertView[] }).alerts),
  },
  {
    words: ['top'],
    summary: 'Live view of bots, the queue, the mode and alerts (--once: one frame)',
    options: {
      once: { type: 'boolean', help: 'print one frame and exit (for scripts)' },
    },
    async run(ctx, values) {
      const print = (frame: TopFrame) => {
        if (ctx.json) ctx.out(JSON.stringify(frame));
        else if (values.once === true || !process.stdout.isTTY) ctx.out(renderTop(frame));
        // Home and clear: each frame replaces the last one on screen.
        else process.stdout.write(`\x1b[H\x1b[2J${renderTop(frame)}\n`);
      };
      if (values.once === true) {
        print((await ctx.call('top', { once: true })) as TopFrame);
        return Exit.Ok;
      }
      const connection = await ctx.connect();
      process.once('SIGINT', () => connection.cancel());
      await connection
        .request('top', {}, { onEvent: (frame) => print(frame as TopFrame) })
        .catch((error: unknown) => {
          if ((error as { code?: string }).code !== 'HIVE_IPC_CANCELLED') throw error;
        });
      return Exit.Ok;
    },
  },
];
