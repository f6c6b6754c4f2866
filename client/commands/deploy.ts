import { isAbsolute, resolve } from 'node:path';
import type { DeploymentView, DeployPoolView } from '../../protocol/deploy.ts';
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
import { ago, duration, fields, table, time } from '../format.ts';

const percent = (n: number) => `${(n * 100).toFixed(1)}%`;

function poolRow(p: DeployPoolView): (string | number)[] {
  return [
    p.pool,
    p.version,
    p.bots.join(',') || '-',
    p.dispatched ?? '-',
    p.done,
    p.failed,
    p.timeouts,
    p.crashes,
    percent(p.errorRate),
    percent(p.timeoutRate),
    p.p95Ms === null ? '-' : `${p.p95Ms}ms`,
  ];
}

/** One deployment: state, step and weights, why, the verdict, and both pools side by side. */
export function renderDeployment(d: DeploymentView): string {
  const steps = d.steps.map((s, i) => (i === d.step ? `[${s}]` : String(s))).join(' → ');
  const achieved = d.weight.achieved === null ? 'no tasks yet' : `${d.weight.achieved}% achieved`;
  const head = fields([
    ['deployment', `${d.id} (${d.kind}, ${d.strategy})`],
    ['state', d.state.toUpperCase()],
    ['steps', steps],
    ['weight', `green ${d.weight.target}% target, ${achieved}`],
    ['why', d.reason],
    ['waiting', d.waiting],
    [
      'verdict',
      d.verdict ? `${d.verdict.result}: ${d.verdict.reason} (${ago(d.verdict.at)})` : undefined,
    ],
    ['started', `${time(d.startedAt)} (${ago(d.startedAt)})`],
    [
      'finished',
      d.finishedAt === undefined
        ? undefined
        : `${time(d.finishedAt)} after ${duration(d.finishedAt - d.startedAt)}`,
    ],
  ]);
  const pools = table(
    [
      'POOL',
      'VERSION',
      'BOTS',
      'SENT',
      'DONE',
      'FAILED',
      'TIMEOUTS',
      'CRASHES',
      'ERR',
      'TMO',
      'P95',
    ],
    [poolRow(d.blue), poolRow(d.green)],
  );
  return `${head}\n\n${pools}`;
}

function renderList(result: unknown): string {
  const { deployments } = result as { deployments: DeploymentView[] };
  if (deployments.length === 0) return 'no deployments';
  return deployments.map(renderDeployment).join('\n\n');
}

function renderHistory(result: unknown): string {
  const { deployments } = result as { deployments: DeploymentView[] };
  if (deployments.length === 0) return 'no finished deployments';
  return table(
    ['ID', 'KIND', 'STATE', 'STEP', 'VERSION', 'STARTED', 'TOOK', 'WHY'],
    deployments.map((d) => [
      d.id,
      d.kind,
      d.state,
      `${d.steps[d.step] ?? '-'}%`,
      d.green.version,
      time(d.startedAt),
      d.finishedAt === undefined ? '-' : duration(d.finishedAt - d.startedAt),
      d.reason,
    ]),
  );
}

/** KEY=VALUE pairs of a repeatable option. */
function envOption(values: Values): Record<string, string> {
  const raw = values.env;
  const pairs = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw usageError(`--env expects KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

function stepsOption(values: Values): number[] | undefined {
  const raw = stringOption(values, 'steps');
  if (raw === undefined) return undefined;
  const steps = raw.split(',').map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100))
    throw usageError(`--steps expects percents like 5,25,50,100, got ${JSON.stringify(raw)}`);
  return steps;
}

/** A command with a slash is a path: made absolute here, where it was typed. */
function commandPath(command: string): string {
  return command.includes('/') && !isAbsolute(command) ? resolve(command) : command;
}

async function follow(ctx: CliContext, kind: string | undefined): Promise<number> {
  const connection = await ctx.connect();
  process.once('SIGINT', () => connection.cancel());
  const print = (event: unknown) => {
    if (ctx.json) ctx.out(JSON.stringify(event));
    else ctx.out(`--- ${new Date().toISOString()}\n${renderList(event)}`);
  };
  await connection.request('deploy.status', defined({ kind, follow: true }), { onEvent: print });
  return Exit.Ok;
}

const kindOnly = (cmd: string) => (_v: Values, p: string[]) => ({ cmd, args: { kind: p[0] } });

/** A command about one kind's deployment that answers with its view. */
function onKind(command: Omit<CliCommand, 'args' | 'positionals' | 'render'>): CliCommand {
  return {
    args: 'KIND',
    positionals: [1, 1],
    render: (r) => renderDeployment(r as DeploymentView),
    ...command,
  };
}

export const deployCommands: CliCommand[] = [
  onKind({
    words: ['deploy', 'start'],
    summary: 'Start a new version of a bot kind beside the running one and shift traffic to it',
    options: {
      command: { type: 'string', arg: 'CMD', help: 'the new version: script or executable' },
      arg: {
        type: 'string',
        multiple: true,
        arg: 'A',
        help: 'an argument of the command (repeat)',
      },
      env: { type: 'string', multiple: true, arg: 'K=V', help: 'an environment variable (repeat)' },
      cwd: { type: 'string', arg: 'DIR', help: "working directory (default: the kind's)" },
      instances: { type: 'string', arg: 'N', help: "green bots (default: blue's count)" },
      concurrency: {
        type: 'string',
        arg: 'N',
        help: "tasks a green bot runs at once (default: the kind's)",
      },
      'memory-limit': {
        type: 'string',
        arg: 'MB',
        help: "green bots' RSS limit (default: the kind's)",
      },
      strategy: { type: 'string', arg: 'S', help: 'canary or bluegreen (default: config)' },
      steps: { type: 'string', arg: 'LIST', help: "green's share per step, e.g. 5,25,50,100" },
      version: { type: 'string', arg: 'V', help: 'a version label (default: name@hash)' },
    },
    request(v, p) {
      const command = stringOption(v, 'command');
      if (!command) throw usageError('hive deploy start KIND --command CMD: --command is required');
      const cwd = stringOption(v, 'cwd');
      return {
        cmd: 'deploy.start',
        args: defined({
          kind: p[0],
          command: commandPath(command),
          args: Array.isArray(v.arg) ? v.arg : undefined,
          env: envOption(v),
          cwd: cwd === undefined ? undefined : resolve(cwd),
          instances: intOption(v, 'instances', 1),
          concurrency: intOption(v, 'concurrency', 1),
          memoryLimitMb: intOption(v, 'memory-limit', 1),
          strategy: stringOption(v, 'strategy'),
          steps: stepsOption(v),
          version: stringOption(v, 'version'),
        }),
      };
    },
  }),
  {
    words: ['deploy', 'status'],
    args: '[KIND]',
    summary: 'Deployments: state, step, weights, per-pool numbers, verdict and why; -f follows',
    positionals: [0, 1],
    options: {
      follow: { type: 'boolean', short: 'f', help: 'print every change until Ctrl-C' },
    },
    async run(ctx, v, p) {
      if (v.follow === true) return follow(ctx, p[0]);
      const result = await ctx.call('deploy.status', defined({ kind: p[0] }));
      ctx.out(ctx.json ? JSON.stringify(result) : renderList(result));
      return Exit.Ok;
    },
  },
  {
    words: ['deploy', 'history'],
    args: '[KIND]',
    summary: 'Finished deployments, newest first',
    positionals: [0, 1],
    request: (_v, p) => ({ cmd: 'deploy.history', args: defined({ kind: p[0] }) }),
    render: renderHistory,
  },
  onKind({
    words: ['deploy', 'pause'],
    summary: 'Hold a deployment at its step',
    options: { reason: { type: 'string', arg: 'R', help: 'why (for the audit trail)' } },
    request: (v, p) => ({
      cmd: 'deploy.pause',
      args: defined({ kind: p[0], reason: stringOption(v, 'reason') }),
    }),
  }),
  onKind({
    words: ['deploy', 'resume'],
    summary: 'Continue a paused deployment',
    request: kindOnly('deploy.resume'),
  }),
  onKind({
    words: ['deploy', 'promote'],
    summary: 'Pass the current step by hand; --full promotes at once',
    options: { full: { type: 'boolean', help: 'skip the remaining steps: 100% now' } },
    request: (v, p) => ({ cmd: 'deploy.promote', args: { kind: p[0], full: v.full === true } }),
  }),
  onKind({
    words: ['deploy', 'abort'],
    summary: "Roll back: green's weight to 0, its tasks drain or go to blue, green stops",
    options: { reason: { type: 'string', arg: 'R', help: 'why (required, for the audit trail)' } },
    request(v, p) {
      const reason = stringOption(v, 'reason');
      if (!reason) throw usageError('hive deploy abort KIND --reason R: --reason is required');
      return { cmd: 'deploy.abort', args: { kind: p[0], reason } };
    },
  }),
  onKind({
    words: ['deploy', 'retry'],
    summary: "Start the kind's last rolled-back deployment again from step 0",
    request: kindOnly('deploy.retry'),
  }),
];
