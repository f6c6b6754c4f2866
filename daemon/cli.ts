import { parseArgs } from 'node:util';
import { HiveError } from '../protocol/errors.ts';
import { resolveSpecs } from './bots/spec.ts';
import { checkConfig, checkLocation, renderCheck } from './config/check.ts';
import { PROJECT_ROOT, VERSION } from './core/paths.ts';
import type { DaemonOptions, RunningDaemon } from './daemon-base.ts';
import { mainConfigFile } from './daemon-base.ts';
import { startDaemon } from './main.ts';

const HELP = `hived ${VERSION}: the hive supervisor daemon (runs in the foreground)

Usage: hived [--state-dir DIR] [--config FILE] [--socket PATH]
       hived --check-config [FILE] [--state-dir DIR] [--config FILE] [--json]

  --state-dir DIR   state directory (env HIVE_STATE_DIR, default ./state)
  --config FILE     config file, YAML or JSON (env HIVE_CONFIG,
                    default <state>/config/hive.yaml, else the embedded default);
                    drop-ins: conf.d/*.yaml next to it, merged in name order
  --socket PATH     control socket (env HIVE_SOCKET, default <state>/run/hived.sock)
  --check-config    validate the config (or FILE: a main file, or a drop-in in a
                    conf.d folder) without starting; exit 0 valid, 1 invalid
  --json            with --check-config: print the result as JSON
  --version         print the version
  --help            this text

Signals: SIGTERM/SIGINT stop gracefully (drain, then exit 0); SIGHUP reloads
the config.`;

export type ParsedFlags =
  | { mode: 'run'; options: DaemonOptions }
  | { mode: 'check'; options: DaemonOptions; file?: string; json: boolean }
  | { mode: 'help' }
  | { mode: 'version' };

export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): ParsedFlags {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'state-dir': { type: 'string' },
      config: { type: 'string' },
      socket: { type: 'string' },
      'check-config': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { mode: 'help' };
  if (values.version) return { mode: 'version' };
  const options: DaemonOptions = { stateDir: values['state-dir'] ?? env.HIVE_STATE_DIR ?? 'state' };
  const configFile = values.config ?? env.HIVE_CONFIG;
  const socket = values.socket ?? env.HIVE_SOCKET;
  if (configFile) options.configFile = configFile;
  if (socket) options.socket = socket;
  if (values['check-config']) {
    if (positionals.length > 1) throw new Error('--check-config takes at most one FILE');
    const file = positionals[0];
    return { mode: 'check', options, json: values.json === true, ...(file ? { file } : {}) };
  }
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  return { mode: 'run', options };
}

/** `hived --check-config`: the same reader and checks as a load, with no daemon. */
export async function runCheck(
  options: DaemonOptions,
  file: string | undefined,
): Promise<{ ok: boolean; text: string; json: string }> {
  const target = checkLocation(file, {
    mainFile: mainConfigFile(options),
    explicit: options.configFile !== undefined,
    projectRoot: PROJECT_ROOT,
  });
  const result = await checkConfig(target, (snapshot) =>
    resolveSpecs(snapshot.config, { baseDir: snapshot.baseDir }),
  );
  return { ok: result.ok, text: renderCheck(result), json: JSON.stringify(result) };
}

/** Entry point of the `hived` command (called by daemon/hived.js after its Node version check). */
export async function runFromCommandLine(): Promise<void> {
  let flags: ParsedFlags;
  try {
    flags = parseFlags(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`hived: ${(error as Error).message}; see hived --help\n`);
    process.exit(1);
  }
  if (flags.mode === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (flags.mode === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (flags.mode === 'check') {
    const result = await runCheck(flags.options, flags.file);
    process.stdout.write(`${flags.json ? result.json : result.text}\n`);
    process.exit(result.ok ? 0 : 1);
  }
  const options = flags.options;
  let daemon: RunningDaemon | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    void daemon?.stop(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // `systemctl reload` sends SIGHUP (ExecReload=); the outcome goes to the log
  // and config-changes.jsonl like any other load.
  process.on('SIGHUP', () => {
    daemon?.reloadConfig('signal').catch(() => {});
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(
      `hived: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`,
    );
  });
  // A restore in safe mode ends with "restart": the same process loads the repaired state.
  for (;;) {
    try {
      daemon = await startDaemon(options);
    } catch (error) {
      const message =
        error instanceof HiveError
          ? `${error.message} [${error.code}]`
          : String((error as Error)?.stack ?? error);
      process.stderr.write(`hived: ${message}\n`);
      process.exit(1);
    }
    if ((await daemon.stopped) === 'exit') break;
  }
  process.exit(0);
}
