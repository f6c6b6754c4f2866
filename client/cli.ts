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
import { Connection } from './connection.ts';

/**
 * Command modules, loaded on demand: one command loads one module (`hive
 * status` is measured against `node -e 0`, and every module costs about a
 * millisecond). A command's first word names its module; a test checks
 * that every command's first word leads to the module that holds it.
 */
export const COMMAND_MODULES = {
  daemon: async () => (await import('./commands/daemon.ts')).daemonCommands,
  tasks: async () => (await import('./commands/tasks.ts')).taskCommands,
  bots: async () => (await import('./commands/bots.ts')).botCommands,
  messaging: async () => (await import('./commands/messaging.ts')).messagingCommands,
  audit: async () => (await import('./commands/audit.ts')).auditCommands,
  config: async () => (await import('./commands/config.ts')).configCommands,
  backup: async () => (await import('./commands/backup.ts')).backupCommands,
  health: async () => (await import('./commands/health.ts')).healthCommands,
  deploy: async () => (await import('./commands/deploy.ts')).deployCommands,
  web: async () => (await import('./commands/web.ts')).webCommands,
} satisfies Record<string, () => Promise<CliCommand[]>>;

export const MODULE_OF_FIRST_WORD: Record<string, keyof typeof COMMAND_MODULES> = {
  status: 'daemon',
  stop: 'daemon',
  logs: 'daemon',
  call: 'daemon',
  commands: 'daemon',
  task: 'tasks',
  bots: 'bots',
  msg: 'messaging',
  sched: 'messaging',
  audit: 'audit',
  config: 'config',
  backup: 'backup',
  recovery: 'backup',
  'restore-point': 'backup',
  mode: 'health',
  health: 'health',
  alerts: 'health',
  top: 'health',
  deploy: 'deploy',
  web: 'web',
};

/** Every command, in the order of the overview. */
export async function allCommands(): Promise<CliCommand[]> {
  const lists = await Promise.all(Object.values(COMMAND_MODULES).map((load) => load()));
  return lists.flat();
}

/** The commands a command line may name: its first word's module, or all of them. */
async function candidateCommands(words: string[]): Promise<CliCommand[]> {
  const module = words[0] === undefined ? undefined : MODULE_OF_FIRST_WORD[words[0]];
  return module ? COMMAND_MODULES[module]() : allCommands();
}

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

function findCommand(
  commands: CliCommand[],
  words: string[],
): { command: CliCommand; rest: string[] } | undefined {
  let best: CliCommand | undefined;
  for (const command of commands) {
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

function overview(commands: CliCommand[]): string {
  const lines = commands.map(
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
  const found = findCommand(await candidateCommands(words), words);
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
      const commands = await allCommands();
      const topic = words[0] === 'help' ? findCommand(commands, words.slice(1)) : undefined;
      process.stdout.write(`${topic ? commandHelp(topic.command) : overview(commands)}\n`);
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
