import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ConfigChange,
  type ConfigChangeRecord,
  type ConfigShow,
  type ConfigStatus,
  type ConfigValue,
  formatProblem,
  type Origin,
} from '../../protocol/config.ts';
import { type CliCommand, Exit, stringOption } from '../command.ts';
import { ago, fields, inline, table, time } from '../format.ts';

/**
 * `hive config ...`. Everything asks the running daemon except `check`,
 * which must also work when no daemon runs: it runs `hived --check-config`
 * (the daemon's own loader and checks) on the same Node, so this client
 * loads no YAML parser or schema itself.
 */

/** `hive.yaml:7`, `conf.d/10-scale.yaml:3`, `default`. */
export function originText(origin: Origin | undefined): string {
  if (!origin) return 'default';
  if (origin.source === 'default' || origin.source === 'embedded') return origin.source;
  const folder = basename(dirname(origin.source));
  const name = folder === 'conf.d' ? `conf.d/${basename(origin.source)}` : basename(origin.source);
  return origin.line ? `${name}:${origin.line}` : name;
}

function valueText(value: unknown): string {
  return typeof value === 'string' ? value : inline(value, 100);
}

function changeLine(c: ConfigChange): string {
  const from = 'old' in c ? valueText(c.old) : '(not set)';
  const to = 'new' in c ? valueText(c.new) : '(not set)';
  return `  ${c.key}: ${from} -> ${to}`;
}

export function renderRecord(record: ConfigChangeRecord): string {
  if (record.outcome === 'rejected') {
    const problems = record.error?.problems ?? [];
    return [
      `config rejected [${record.error?.code ?? 'HIVE_CONFIG_INVALID'}]; the running config is unchanged:`,
      ...problems.map((p) => `  ${p.file}: ${formatProblem(p)}`),
    ].join('\n');
  }
  const lines = [
    record.outcome === 'unchanged'
      ? 'config reloaded: no changes'
      : `config applied: ${record.diff.length} change${record.diff.length === 1 ? '' : 's'}`,
    ...record.diff.map(changeLine),
  ];
  if (record.restartRequired.length > 0)
    lines.push(
      'needs a restart of hived (the running value stays until then):',
      ...record.restartRequired.map(changeLine),
    );
  if (record.notes.length > 0) lines.push('notes:', ...record.notes.map((n) => `  ${n}`));
  return lines.join('\n');
}

function renderShow(result: unknown): string {
  const show = result as ConfigShow;
  const pending = new Map(show.pendingRestart.map((c) => [c.key, c]));
  const rows = Object.entries(show.origins).map(([key, origin]) => {
    const value = valueText(lookup(show.config, key));
    const held = pending.get(key);
    return [
      key,
      held ? `${value} (the files say ${valueText(held.new)}: needs a restart)` : value,
      originText(origin),
    ];
  });
  const sources = show.files.map((f) => `${f.role} ${f.path}`);
  const head =
    show.base === 'embedded'
      ? ['config: the embedded default (no main file)', ...sources]
      : [`config: ${sources.join(', ')}`];
  const held = show.pendingRestart.length
    ? [
        '',
        'the files differ here; needs a restart of hived:',
        ...show.pendingRestart.map(changeLine),
      ]
    : [];
  return [...head, '', table(['KEY', 'VALUE', 'FROM'], rows), ...held].join('\n');
}

function lookup(root: unknown, key: string): unknown {
  let value = root;
  for (const segment of key.split('.'))
    value = (value as Record<string, unknown> | undefined)?.[segment];
  return value;
}

function renderStatus(result: unknown): string {
  const s = result as ConfigStatus;
  const files = s.files.length
    ? s.files.map((f) => `${f.role} ${f.path} (${f.bytes} B, sha256 ${f.sha256.slice(0, 12)})`)
    : [];
  const lines = fields([
    ['main file', `${s.mainFile}${s.base === 'embedded' ? ' (absent: embedded default)' : ''}`],
    ['drop-ins', s.confDir],
    ['loaded', `${time(s.loadedAt)} (${ago(s.loadedAt)}, ${s.loadedBy})`],
    ['checksum', s.checksum],
    ['watching', s.watching ? 'yes' : 'no (SIGHUP or hive config reload)'],
    [
      'last attempt',
      `${time(s.lastAttempt.at)} ${s.lastAttempt.trigger}: ${s.lastAttempt.outcome}`,
    ],
    [
      'loads',
      `${s.counts.applied} applied, ${s.counts.unchanged} unchanged, ${s.counts.rejected} rejected`,
    ],
  ]);
  const out = [lines, ...files.map((f) => `  ${f}`)];
  if (s.lastError) {
    out.push(
      `last error (${time(s.lastError.at)}, ${s.lastError.trigger}); the running config stays:`,
      ...(s.lastError.error?.problems ?? []).map((p) => `  ${p.file}: ${formatProblem(p)}`),
    );
  } else out.push('last error: none');
  if (s.pendingRestart.length > 0)
    out.push('needs a restart of hived:', ...s.pendingRestart.map(changeLine));
  return out.join('\n');
}

/**
 * Runs `hived --check-config` on this Node and passes its output and exit
 * code through. child_process is loaded here, not at start: every other
 * command would pay for it (`hive status` is measured against `node -e 0`).
 */
async function runCheck(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const { collectOutput } = await import('../child-output.ts');
  const hived = fileURLToPath(new URL('../../daemon/hived.js', import.meta.url));
  const child = spawn(process.execPath, [hived, '--check-config', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await collectOutput(child);
  return { code: code ?? Exit.Error, stdout, stderr };
}

export const configCommands: CliCommand[] = [
  {
    words: ['config', 'show'],
    summary: 'The effective config (secrets redacted) and where each value came from',
    request: () => ({ cmd: 'config.show', args: {} }),
    render: renderShow,
  },
  {
    words: ['config', 'get'],
    args: 'KEY',
    summary: 'One config value by dotted key path (e.g. bots.echo.instances)',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'config.get', args: { key: p[0] } }),
    render: (result) => {
      const { value } = result as ConfigValue;
      return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    },
  },
  {
    words: ['config', 'check'],
    args: '[FILE]',
    summary: 'Validate the config (or FILE) without applying it; works without a daemon',
    options: {
      config: {
        type: 'string',
        arg: 'FILE',
        help: "the daemon's main config file (env HIVE_CONFIG), when not the state dir's",
      },
    },
    positionals: [0, 1],
    async run(ctx, values, positionals) {
      const args = [
        ...(positionals[0] ? [positionals[0]] : []),
        ...(stringOption(values, 'state-dir') ? ['--state-dir', String(values['state-dir'])] : []),
        ...(stringOption(values, 'config') ? ['--config', String(values.config)] : []),
        ...(ctx.json ? ['--json'] : []),
      ];
      const { code, stdout, stderr } = await runCheck(args);
      if (stdout) process.stdout.write(stdout);
      if (stderr) process.stderr.write(stderr);
      return code === 0 ? Exit.Ok : Exit.Error;
    },
  },
  {
    words: ['config', 'reload'],
    summary: 'Read the config files again and apply them; prints the diff or the errors',
    request: () => ({ cmd: 'config.reload', args: {} }),
    render: (result) => renderRecord(result as ConfigChangeRecord),
    exitCode: (result) =>
      (result as ConfigChangeRecord).outcome === 'rejected' ? Exit.Error : Exit.Ok,
  },
  {
    words: ['config', 'status'],
    summary: 'Config files, last load, checksum, last error, keys waiting for a restart',
    request: () => ({ cmd: 'config.status', args: {} }),
    render: renderStatus,
  },
];
