/**
 * `hive`: the thin command-line client. It loads the wire protocol and a
 * formatter, nothing of the daemon.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HiveError } from '../protocol/errors.ts';
import {
  type CliCommand,
  type CliContext,
  Exit,
  type OptionSpec,
  printProgress,
  type Values,
} from './command.ts';
import { auditCommands } from './commands/audit.ts';
import { backupCommands } from './commands/backup.ts';
import { botCommands } from './commands/bots.ts';
import { configCommands } from './commands/config.ts';
import { daemonCommands } from './commands/daemon.ts';
import { deployCommands } from './commands/deploy.ts';
import { healthCommands } from './commands/health.ts';
import { messagingCommands } from './commands/messaging.ts';
import { taskCommands } from './commands/tasks.ts';
import { Connection } from './connection.ts';

const COMMANDS: CliCommand[] = [
  ...daemonCommands,
  ...taskCommands,
  ...botCommands,
  ...messagingCommands,
  ...auditCommands,
  ...configCommands,
  ...backupCommands,
  ...healthCommands,
  ...deployCommands,
];

const GLOBAL_OPTIONS: Record<string, OptionSpec & { help: string; arg?: string }> = {
  json: { type: 'boolean', help: 'machine-readable output (errors too)' },
  socket: { type: 'string', arg: 'PATH', help: 'control socket (env HIVE_SOCKET)' },
  'state-dir': {
    type: 'string',
    arg: 'DIR',
    help: 'state directory, for its socket (env HIVE_STATE_DIR, default ./state)',
  },
  help: { type: 'boolean', short: 'h', help: 'help for a command' },
};

function socketPath(values: Values, env: NodeJS.ProcessEnv): string {
  const explicit = (values.socket as string | undefined) ?? env.HIVE_SOCKET;
  if (explicit) return resolve(explicit);
  return resolve(
    (values['state-dir'] as string | undefined) ?? env.HIVE_STATE_DIR ?? 'state',
    'run',
    'hived.sock',
  );
}

function findCommand(words: string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: CliCommand | undefined;
  for (const command of COMMANDS) {
    const matches = command.words.every((w, i) => words[i] === w);
    if (matches && (!best || command.words.length > best.words.length)) best = command;
  }
  return best && { command: best, rest: words.slice(best.words.length) };
}

function optionHelp(options: CliCommand['options'] = {}): string {
  return Object.entries(options)
    .map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`;
      return `  ${flag.padEnd(26)} ${o.help}`;
    })
    .join('\n');
}

function commandHelp(command: CliCommand): string {
  const usage = `hive ${command.words.join(' ')}${command.args ? ` ${command.args}` : ''}${command.options ? ' [options]' : ''}`;
  const options = optionHelp(command.options);
  return `${usage}\n\n${command.summary}\n${options ? `\n${options}\n` : ''}\nGlobal options:\n${optionHelp(GLOBAL_OPTIONS)}`;
}

function overview(): string {
  const lines = COMMANDS.map(
    (c) => `  ${`${c.words.join(' ')}${c.args ? ` ${c.args}` : ''}`.padEnd(28)} ${c.summary}`,
  );
  return `hive: control a running hived\n\nUsage: hive <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nGlobal options:\n${optionHelp(GLOBAL_OPTIONS)}\n\nExit codes: 0 ok, 1 command error, 2 daemon unreachable, 3 wait timed out, 4 audit verify found damage.\nRun "hive <command> --help" for a command's options.`;
}

/** How long a plain request may take before the client gives up (HIVE_TIMEOUT_MS overrides). */
const requestTimeoutMs =
  Number(process.env.HIVE_TIMEOUT_MS) > 0 ? Number(process.env.HIVE_TIMEOUT_MS) : 30_000;

function makeContext(json: boolean, socket: string): CliContext & { dispose(): void } {
  let connection: Promise<Connection> | undefined;
  const connect = () => {
    connection ??= Connection.open(socket);
    return connection;
  };
  return {
    json,
    socket,
    connect,
    async call(cmd, args = {}, options = {}) {
      const c = await connect();
      return c.request(cmd, args, {
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.long ? {} : { timeoutMs: requestTimeoutMs }),
      });
    },
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    dispose() {
      void connection?.then(
        (c) => c.close(),
        () => {},
      );
    },
  };
}

async function runCommand(
  ctx: CliContext,
  command: CliCommand,
  values: Values,
  positionals: string[],
): Promise<number> {
  const [min, max] = command.positionals ?? [0, 0];
  if (positionals.length < min || positionals.length > max) {
    const expected = command.args
      ? `hive ${command.words.join(' ')} ${command.args}`
      : `no arguments after "${command.words.join(' ')}"`;
    throw new HiveError('HIVE_IPC_BAD_ARGS', `usage: ${expected}`);
  }
  if (command.run) return command.run(ctx, values, positionals);
  if (!command.request) throw new Error(`command ${command.words.join(' ')} has no request`);
  const { cmd, args } = command.request(values, positionals);
  const result = await ctx.call(cmd, args, {
    long: command.waits?.(values) === true,
    onEvent: (event) => printProgress(ctx, event),
  });
  ctx.out(ctx.json || !command.render ? JSON.stringify(result) : command.render(result));
  return command.exitCode?.(result) ?? Exit.Ok;
}

/** argv minus the first occurrence of each command word, in order. */
function withoutWords(argv: string[], words: string[]): string[] {
  const rest = [...argv];
  let from = 0;
  for (const word of words) {
    const at = rest.indexOf(word, from);
    if (at === -1) continue;
    rest.splice(at, 1);
    from = at;
  }
  return rest;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Command words may come after global options (hive --json task ls): a
  // loose pass finds them, the strict pass below checks every option.
  const loose = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
  });
  const words = loose.positionals;
  const found = findCommand(words);
  const json = argv.includes('--json');
  const fail = (error: HiveError, code: number) => {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: error.toWire() })}\n`);
    else
      process.stderr.write(
        `hive: ${error.message}${error.code === 'HIVE_IPC_UNREACHABLE' ? '' : ` [${error.code}]`}\n`,
      );
    return code;
  };
  if (!found) {
    if (words.length === 0 || words[0] === 'help') {
      const topic = words[0] === 'help' ? findCommand(words.slice(1)) : undefined;
      process.stdout.write(`${topic ? commandHelp(topic.command) : overview()}\n`);
      return Exit.Ok;
    }
    if (words[0] === 'version' || argv.includes('--version')) {
      process.stdout.write(
        `${(await import('node:module')).createRequire(import.meta.url)('../package.json').version}\n`,
      );
      return Exit.Ok;
    }
    return fail(
      new HiveError(
        'HIVE_IPC_UNKNOWN_COMMAND',
        `unknown command "${words.join(' ')}"; run hive help`,
      ),
      Exit.Error,
    );
  }
  const { command } = found;
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: withoutWords(argv, command.words),
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (error) {
    return fail(
      new HiveError(
        'HIVE_IPC_BAD_ARGS',
        `${(error as Error).message}; see hive ${command.words.join(' ')} --help`,
      ),
      Exit.Error,
    );
  }
  if (values.help) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return Exit.Ok;
  }
  const ctx = makeContext(json, socketPath(values, env));
  try {
    return await runCommand(ctx, command, values, positionals);
  } catch (error) {
    if (error instanceof HiveError) {
      const unreachable =
        error.code === 'HIVE_IPC_UNREACHABLE' || error.code === 'HIVE_IPC_TIMEOUT';
      return fail(error, unreachable ? Exit.Unreachable : Exit.Error);
    }
    return fail(
      new HiveError('HIVE_DAEMON_INTERNAL', String((error as Error)?.message ?? error)),
      Exit.Error,
    );
  } finally {
    ctx.dispose();
  }
}
