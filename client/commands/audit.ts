import { readFileSync, writeFileSync } from 'node:fs';
import type { AuditEntry, AuditStats } from '../../protocol/audit.ts';
import type { VerifyReport } from '../../protocol/audit-verify.ts';
import {
  type CliCommand,
  type CliContext,
  defined,
  Exit,
  intOption,
  stringOption,
  usageError,
  type Values,
} from '../command.ts';
import { duration, inline, table } from '../format.ts';

const timeHelp = 'ISO date/time, epoch ms, or an age: 15m, 2h, 7d';

function who(e: AuditEntry): string {
  const pid = e.pid === undefined ? '' : ` pid ${e.pid}`;
  const unverified = e.verified === false ? ' (unverified)' : '';
  return `${e.actor}${pid}${unverified}`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function outcome(e: AuditEntry): string {
  const parts = [e.result, e.error, e.reason].filter((p) => p !== undefined && p !== '');
  return parts.join(' ');
}

/** One entry on one line, for tail and query. */
export function entryLine(e: AuditEntry): string {
  const target = e.target === undefined ? '' : ` → ${e.target}`;
  const rest = outcome(e);
  const extra = e.args ?? e.details;
  return `#${e.seq} ${e.time} ${e.severity.padEnd(8)} ${e.action} by ${who(e)}${target}${rest ? `: ${rest}` : ''}${extra ? ` ${inline(extra, 160)}` : ''}`;
}

function renderQuery(result: unknown): string {
  const { entries, next } = result as { entries: AuditEntry[]; next: number | null };
  if (entries.length === 0) return 'no matching entries';
  const rows = entries.map((e) => [
    e.seq,
    e.time,
    e.severity,
    e.action,
    who(e),
    e.target ?? '',
    cut(outcome(e), 80),
  ]);
  const body = table(['SEQ', 'TIME', 'SEVERITY', 'ACTION', 'ACTOR', 'TARGET', 'OUTCOME'], rows);
  return next === null ? body : `${body}\n(more: add --before ${next})`;
}

function renderVerify(report: VerifyReport & { durationMs?: number }, what: string): string {
  if (report.ok) {
    const range =
      report.lastSeq === null ? 'no entries' : `entries ${report.firstSeq}..${report.lastSeq}`;
    const start = report.retention
      ? `\nstarts at sequence ${report.startsAt}: older entries (through ${report.retention.removedThrough}) were removed by retention at ${report.retention.at}`
      : '';
    const macs = {
      checked: 'MACs checked',
      none: 'no MACs (no key configured)',
      unchecked: 'MACs present but not checked (no key given)',
    }[report.macs];
    const took = report.durationMs === undefined ? '' : ` in ${duration(report.durationMs)}`;
    return `${what} OK: ${report.entries} entries (${range}) in ${report.segments} segments; ${macs}${took}${start}`;
  }
  const p = report.problem;
  if (!p) return `${what} FAILED`;
  const where = `${p.file}${p.line ? ` line ${p.line}` : ''}`;
  const at = [
    p.segment === null ? '' : `segment ${p.segment}`,
    p.seq === null ? '' : `entry ${p.seq}`,
  ]
    .filter(Boolean)
    .join(', ');
  return `${what} FAILED${at ? ` at ${at}` : ''} (${where}): ${p.kind.replace('_', ' ')}: ${p.message}`;
}

async function verifyFile(ctx: CliContext, values: Values, file: string): Promise<number> {
  const [{ verifyExport }, { MacKey }] = await Promise.all([
    import('../../protocol/audit-export.ts'),
    import('../../protocol/audit-chain.ts'),
  ]);
  const keyFile = stringOption(values, 'key-file');
  let key: InstanceType<typeof MacKey> | undefined;
  let data: Buffer;
  try {
    if (keyFile) key = MacKey.fromSecret(readFileSync(keyFile));
    data = readFileSync(file);
  } catch (error) {
    throw usageError(`${(error as Error).message}`);
  }
  const report = await verifyExport(data, { key, file });
  ctx.out(ctx.json ? JSON.stringify(report) : renderVerify(report, `export ${file}`));
  return report.ok ? Exit.Ok : Exit.Tampered;
}

function renderStats(result: unknown): string {
  const s = result as AuditStats;
  if (s.entries === 0) return 'no entries';
  const sorted = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, v]);
  const hours = Object.entries(s.perHour).sort((a, b) => a[0].localeCompare(b[0]));
  return [
    `${s.entries} entries (${s.firstSeq}..${s.lastSeq}) from ${s.from} to ${s.to}`,
    '',
    table(['SEVERITY', 'COUNT'], sorted(s.bySeverity)),
    '',
    table(['ACTION', 'COUNT'], sorted(s.byAction)),
    '',
    table(['ACTOR', 'COUNT'], sorted(s.byActor)),
    '',
    table(
      ['HOUR (UTC)', 'COUNT'],
      hours.map(([h, n]) => [`${h}:00`, n]),
    ),
  ].join('\n');
}

async function exportRange(ctx: CliContext, values: Values): Promise<number> {
  // An open end is pinned to now: the export's own audit entries must not keep it going.
  const until = stringOption(values, 'until') ?? new Date().toISOString();
  const base = defined({ since: stringOption(values, 'since'), until });
  const out = stringOption(values, 'out');
  const chunks: string[] = [];
  let cursor: string | null | undefined;
  let last = '';
  do {
    const page = (await ctx.call(
      'audit.export',
      defined({ ...base, cursor: cursor ?? undefined }),
    )) as {
      lines: string[];
      next: string | null;
    };
    const text = page.lines.map((l) => `${l}\n`).join('');
    last = page.lines.at(-1) ?? last;
    if (out) chunks.push(text);
    else process.stdout.write(text);
    cursor = page.next;
  } while (cursor);
  if (out) {
    writeFileSync(out, chunks.join(''), { mode: 0o600 });
    const { entries, lastSeq } = JSON.parse(last) as { entries: number; lastSeq: number };
    const summary = { file: out, entries, lastSeq };
    ctx.out(
      ctx.json
        ? JSON.stringify(summary)
        : `exported ${entries} entries (up to ${lastSeq}) to ${out}`,
    );
  }
  return Exit.Ok;
}

export const auditCommands: CliCommand[] = [
  {
    words: ['audit', 'query'],
    summary: 'Search the audit trail, newest first',
    options: {
      actor: { type: 'string', arg: 'A', help: 'who: an OS user, daemon, or a bot name' },
      action: {
        type: 'string',
        arg: 'T',
        help: 'an action (bot.crash) or a family (bot, command.task)',
      },
      target: { type: 'string', arg: 'X', help: 'what it acted on: a task id, bot name, kind' },
      severity: { type: 'string', arg: 'S', help: 'at least: info, warning or critical' },
      since: { type: 'string', arg: 'T', help: timeHelp },
      until: { type: 'string', arg: 'T', help: timeHelp },
      text: { type: 'string', arg: 'S', help: 'text anywhere in the entry (case-insensitive)' },
      limit: { type: 'string', arg: 'N', help: 'at most N entries (default 50, max 1000)' },
      before: { type: 'string', arg: 'SEQ', help: 'only entries before this one (the next page)' },
    },
    request: (v) => ({
      cmd: 'audit.query',
      args: defined({
        actor: stringOption(v, 'actor'),
        action: stringOption(v, 'action'),
        target: stringOption(v, 'target'),
        severity: stringOption(v, 'severity'),
        since: stringOption(v, 'since'),
        until: stringOption(v, 'until'),
        text: stringOption(v, 'text'),
        limit: intOption(v, 'limit', 1),
        before: intOption(v, 'before', 1),
      }),
    }),
    render: renderQuery,
  },
  {
    words: ['audit', 'tail'],
    summary: 'The latest audit entries; -f follows',
    options: {
      lines: { type: 'string', short: 'n', arg: 'N', help: 'how many (default 20)' },
      follow: { type: 'boolean', short: 'f', help: 'keep printing new entries until Ctrl-C' },
    },
    async run(ctx, values) {
      const print = (entry: unknown) =>
        ctx.out(ctx.json ? JSON.stringify(entry) : entryLine(entry as AuditEntry));
      const args = { lines: intOption(values, 'lines') ?? 20, follow: values.follow === true };
      if (!args.follow) {
        const { entries } = (await ctx.call('audit.tail', args)) as { entries: AuditEntry[] };
        for (const entry of entries) print(entry);
        return Exit.Ok;
      }
      const connection = await ctx.connect();
      process.once('SIGINT', () => connection.cancel());
      await connection.request('audit.tail', args, { onEvent: print });
      return Exit.Ok;
    },
  },
  {
    words: ['audit', 'verify'],
    summary: 'Check the hash chain of the trail (or of an export); exit 4 if it is damaged',
    options: {
      file: { type: 'string', arg: 'F', help: 'verify an export file instead, without the daemon' },
      'key-file': { type: 'string', arg: 'K', help: 'with --file: the HMAC key, to check MACs' },
    },
    async run(ctx, values) {
      const file = stringOption(values, 'file');
      if (file) return verifyFile(ctx, values, file);
      const report = (await ctx.call('audit.verify', {}, { long: true })) as VerifyReport;
      ctx.out(ctx.json ? JSON.stringify(report) : renderVerify(report, 'audit trail'));
      return report.ok ? Exit.Ok : Exit.Tampered;
    },
  },
  {
    words: ['audit', 'stats'],
    summary: 'Audit entries counted by action, actor, severity and hour',
    options: {
      since: { type: 'string', arg: 'T', help: timeHelp },
      until: { type: 'string', arg: 'T', help: timeHelp },
    },
    request: (v) => ({
      cmd: 'audit.stats',
      args: defined({ since: stringOption(v, 'since'), until: stringOption(v, 'until') }),
    }),
    waits: () => true,
    render: renderStats,
  },
  {
    words: ['audit', 'export'],
    summary: 'Export a time range as JSON lines that verify on their own',
    options: {
      since: { type: 'string', arg: 'T', help: timeHelp },
      until: { type: 'string', arg: 'T', help: `${timeHelp} (default: now)` },
      out: { type: 'string', arg: 'FILE', help: 'write to FILE (0600) instead of stdout' },
    },
    run: exportRange,
  },
];
