import type { DeploymentView } from '../../protocol/deploy.ts';
import { type CliCommand, Exit, intOption, stringOption, usageError } from '../command.ts';
import { duration, inline, table } from '../format.ts';
import { type BotRow, botTable } from './bots.ts';

interface Status {
  daemon: {
    pid: number;
    version: string;
    uptimeMs: number;
    lastStart: string;
    lastStartDetail?: string;
    socket: string;
    config: string;
    stopping?: boolean;
    mode?: 'normal' | 'safe';
    safeMode?: string;
  };
  bots: BotRow[];
  queue: Record<string, number>;
  messages?: Record<string, number>;
  recovery?: { problems: string[] };
  degradation?: { mode: string; manual: boolean; reason: string };
  health?: string;
  http?: { listening: { host: string; port: number } | null; error?: string };
  deployments?: DeploymentView[];
  audit?: {
    sink: 'ok' | 'broken';
    reason?: string;
    since?: number;
    seq: number;
    segment: number;
    backlog: number;
    lost: number;
    keyed: boolean;
    failClosed: boolean;
  };
}

function auditLine(audit: Status['audit']): string {
  if (!audit) return '';
  const keyed = audit.keyed ? 'keyed' : 'no key';
  if (audit.sink === 'ok')
    return `\naudit: ok (entry ${audit.seq}, segment ${audit.segment}, ${keyed})`;
  const since = audit.since ? ` for ${duration(Date.now() - audit.since)}` : '';
  const refusing = audit.failClosed ? '; mutating commands are refused' : '; NOT failing closed';
  return `\naudit: BROKEN${since}: ${audit.reason}; ${audit.backlog} entries waiting, ${audit.lost} lost${refusing}`;
}

export function renderStatus(result: unknown): string {
  const { daemon, bots, queue, messages, recovery, audit, degradation, health, http, deployments } =
    result as Status;
  const head = `hived ${daemon.version}  pid ${daemon.pid}  up ${duration(daemon.uptimeMs)}  last start: ${daemon.lastStart}${daemon.stopping ? '  STOPPING' : ''}`;
  let detail =
    daemon.lastStart === 'crash' && daemon.lastStartDetail ? `\n  ${daemon.lastStartDetail}` : '';
  if (daemon.mode === 'safe')
    detail += `\nSAFE MODE: nothing is dispatched. ${daemon.safeMode ?? ''}`;
  const problems = recovery?.problems.length ?? 0;
  if (problems > 0) detail += `\nrecovery: ${recovery?.problems.join('; ')} (hive recovery status)`;
  const q = Object.entries(queue)
    .map(([k, v]) => `${k} ${v}`)
    .join('  ');
  const modeLine = degradation
    ? `\nmode: ${degradation.reason}${degradation.manual ? ' (held by hand)' : ''}; health: ${(health ?? '-').toUpperCase()}`
    : '';
  const httpLine = http
    ? `\nhttp: ${http.listening ? `http://${http.listening.host}:${http.listening.port}/metrics` : `not listening${http.error ? ` (${http.error})` : ''}`}`
    : '';
  const m = messages
    ? `\nmessages: ${Object.entries(messages)
        .map(([k, v]) => `${k} ${v}`)
        .join('  ')}`
    : '';
  const deploys = (deployments ?? []).map(
    (d) =>
      `\ndeploy: ${d.kind} ${d.state.toUpperCase()}, green ${d.green.version} at ${d.weight.target}%${d.weight.achieved === null ? '' : ` (${d.weight.achieved}% achieved)`}: ${d.reason}`,
  );
  return `${head}${detail}${modeLine}\nconfig: ${daemon.config}${httpLine}\n\n${botTable(bots)}\n\nqueue: ${q}${m}${deploys.join('')}${auditLine(audit)}`;
}

interface LogLine {
  time?: string;
  level?: string;
  part?: string;
  message?: string;
  [key: string]: unknown;
}

function renderLogLine(line: unknown): string {
  const { time, level, part, message, ...rest } = (line ?? {}) as LogLine;
  const extras = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : inline(v, 120)}`)
    .join(' ');
  return `${time ?? ''} ${(level ?? '').padEnd(5)} [${part ?? '-'}] ${message ?? ''}${extras ? ` ${extras}` : ''}`;
}

export const daemonCommands: CliCommand[] = [
  {
    words: ['status'],
    summary: 'The daemon, its bots and the queue',
    request: () => ({ cmd: 'status', args: {} }),
    render: renderStatus,
  },
  {
    words: ['stop'],
    summary: 'Stop the daemon gracefully and wait until it has exited',
    options: {
      'no-wait': { type: 'boolean', help: 'return once the daemon has accepted the stop' },
    },
    async run(ctx, values) {
      const connection = await ctx.connect();
      const answer = (await connection.request('daemon.stop', {})) as { pid: number };
      if (values['no-wait'] !== true) {
        if (!ctx.json)
          ctx.err(`stopping hived (pid ${answer.pid}): draining tasks, stopping bots...`);
        await connection.closed;
      }
      ctx.out(
        ctx.json
          ? JSON.stringify({ stopped: values['no-wait'] !== true, pid: answer.pid })
          : `hived (pid ${answer.pid}) stopped`,
      );
      return Exit.Ok;
    },
  },
  {
    words: ['logs'],
    summary: 'Show recent log lines; -f follows',
    options: {
      part: { type: 'string', arg: 'P', help: 'a part stream: bots, tasks, config, recovery, ...' },
      lines: { type: 'string', short: 'n', arg: 'N', help: 'how many recent lines (default 50)' },
      follow: { type: 'boolean', short: 'f', help: 'keep printing new lines until Ctrl-C' },
    },
    async run(ctx, values) {
      const print = (line: unknown) =>
        ctx.out(ctx.json ? JSON.stringify(line) : renderLogLine(line));
      const args = {
        lines: intOption(values, 'lines') ?? 50,
        follow: values.follow === true,
        ...(stringOption(values, 'part') ? { part: stringOption(values, 'part') } : {}),
      };
      if (!args.follow) {
        const { lines } = (await ctx.call('logs.tail', args)) as { lines: unknown[] };
        for (const line of lines) print(line);
        return Exit.Ok;
      }
      const connection = await ctx.connect();
      process.once('SIGINT', () => connection.cancel());
      await connection.request('logs.tail', args, { onEvent: print });
      return Exit.Ok;
    },
  },
  {
    words: ['commands'],
    summary: 'List the commands the running daemon understands',
    request: () => ({ cmd: 'commands', args: {} }),
    render(result) {
      const { commands } = result as {
        commands: { name: string; summary: string; mutating: boolean }[];
      };
      return table(
        ['COMMAND', 'MUTATING', 'WHAT'],
        commands.map((c) => [c.name, c.mutating ? 'yes' : 'no', c.summary]),
      );
    },
  },
  {
    words: ['call'],
    args: 'COMMAND [JSON-ARGS]',
    summary: 'Send any daemon command with raw JSON arguments (prints JSON)',
    positionals: [1, 2],
    async run(ctx, _values, positionals) {
      let args: Record<string, unknown> = {};
      if (positionals[1] !== undefined) {
        try {
          args = JSON.parse(positionals[1]) as Record<string, unknown>;
        } catch {
          throw usageError(`arguments must be a JSON object, got ${positionals[1]}`);
        }
      }
      const result = await ctx.call(positionals[0] as string, args, {
        long: true,
        onEvent: (event) => ctx.out(JSON.stringify(event)),
      });
      ctx.out(JSON.stringify(result, null, ctx.json ? undefined : 2));
      return Exit.Ok;
    },
  },
];
