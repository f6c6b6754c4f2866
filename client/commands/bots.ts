import type { BotView } from '../../protocol/views.ts';
import { type CliCommand, defined, intArg, stringOption } from '../command.ts';
import { bytes, duration, table } from '../format.ts';

export type BotRow = BotView;

export function botTable(bots: BotRow[]): string {
  if (bots.length === 0) return 'no bots';
  const now = Date.now();
  const rows = bots.map((b) => [
    b.name,
    b.kind,
    b.state,
    b.pid,
    b.readySince && b.state === 'ready' ? duration(now - b.readySince) : '-',
    b.restarts,
    b.tasksDone,
    `${b.inflight}/${b.concurrency}`,
    bytes(b.rssBytes),
    b.failureReason ?? (b.state !== 'ready' && b.lastExit ? b.lastExit.reason : ''),
  ]);
  return table(
    ['NAME', 'KIND', 'STATE', 'PID', 'UP', 'RESTARTS', 'DONE', 'BUSY', 'RSS', 'NOTE'],
    rows,
  );
}

export const botCommands: CliCommand[] = [
  {
    words: ['bots', 'ls'],
    summary: 'List bots',
    options: { kind: { type: 'string', arg: 'K', help: 'only bots of this kind' } },
    request: (v) => ({ cmd: 'bots.ls', args: defined({ kind: stringOption(v, 'kind') }) }),
    render: (r) => botTable((r as { bots: BotRow[] }).bots),
  },
  {
    words: ['bots', 'restart'],
    args: 'NAME',
    summary: 'Restart one bot (also revives a failed one)',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'bots.restart', args: { name: p[0] } }),
    render: (r) =>
      `${(r as BotRow).name} restarted: ${(r as BotRow).state}, pid ${(r as BotRow).pid ?? '-'}`,
  },
  {
    words: ['bots', 'scale'],
    args: 'KIND N',
    summary: 'Set the number of bots of a kind',
    options: {
      force: { type: 'boolean', help: 'scale up even while DEGRADED or MAINTENANCE pauses it' },
    },
    positionals: [2, 2],
    request: (v, p) => ({
      cmd: 'bots.scale',
      args: defined({
        kind: p[0],
        instances: intArg(p[1], 'N'),
        force: v.force === true ? true : undefined,
      }),
    }),
    render(r) {
      const { kind, from, to } = r as { kind: string; from: number; to: number };
      return `${kind}: ${from} -> ${to} bots`;
    },
  },
];
