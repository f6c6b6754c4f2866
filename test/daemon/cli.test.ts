/**
 * The `hive` command-line contract, run as a real child process against a
 * real hived: exit codes (0 ok, 1 command error, 2 unreachable, 3 wait
 * timed out), `--json` output that parses, and the documented JSON shapes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  type CliResult,
  type DaemonHandle,
  echoBot,
  runHive,
  startDaemon,
  tempDir,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { pidOf } from '../helpers/process.ts';

type Json = Record<string, unknown>;

/** Runs `hive ARGS --json --socket S`, checks the exit code and parses stdout as one JSON value. */
async function hiveJson(
  t: ExecutionContext,
  daemon: DaemonHandle,
  args: string[],
  expectedCode = 0,
): Promise<Json> {
  const run = await runHive([...args, '--json', '--socket', daemon.socket]);
  t.is(run.code, expectedCode, `hive ${args.join(' ')}: ${run.stderr}${run.stdout}`);
  let parsed: Json | undefined;
  t.notThrows(
    () => {
      parsed = JSON.parse(run.stdout) as Json;
    },
    `hive ${args.join(' ')} --json prints JSON: ${run.stdout}`,
  );
  return parsed ?? {};
}

function assertKeys(t: ExecutionContext, value: unknown, keys: string[], what: string): void {
  t.true(typeof value === 'object' && value !== null, `${what} is an object`);
  for (const key of keys)
    t.true(Object.hasOwn(value as object, key), `${what} has "${key}": ${JSON.stringify(value)}`);
}

function oneLine(run: CliResult): string {
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  return lines.length === 1 ? (lines[0] ?? '') : `${lines.length} lines: ${run.stderr}`;
}

test('status, task and bots commands: exit 0 and the documented --json shapes', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot({ instances: 2 }) } } });
  await waitForReadyBots(daemon, 2);

  const status = await hiveJson(t, daemon, ['status']);
  assertKeys(t, status, ['daemon', 'bots', 'queue'], 'status');
  assertKeys(t, status.daemon, ['pid', 'version', 'uptimeMs', 'lastStart'], 'status.daemon');
  const d = status.daemon as { pid: number; version: string; uptimeMs: number; lastStart: string };
  t.is(d.pid, pidOf(daemon));
  t.is(typeof d.version, 'string');
  t.true(Number.isFinite(d.uptimeMs) && d.uptimeMs >= 0);
  t.true(d.lastStart === 'clean' || d.lastStart === 'crash');
  t.true(Array.isArray(status.bots));
  const bots = status.bots as Json[];
  t.is(bots.length, 2);
  for (const bot of bots)
    assertKeys(t, bot, ['name', 'kind', 'pid', 'state', 'restarts', 'tasksDone'], 'status.bots[]');
  assertKeys(t, status.queue, ['queued', 'running', 'done', 'failed', 'dead'], 'status.queue');

  // Human output exits 0 too and mentions the pid.
  const human = await runHive(['status', '--socket', daemon.socket]);
  t.is(human.code, 0);
  t.true(human.stdout.includes(String(pidOf(daemon))));

  const submitted = await hiveJson(t, daemon, ['task', 'submit', 'echo', '--payload', '{"n":1}']);
  assertKeys(t, submitted, ['id', 'state'], 'task submit');
  const waited = await hiveJson(t, daemon, [
    'task',
    'submit',
    'echo',
    '--payload',
    '{"n":2}',
    '--priority',
    '1',
    '--wait',
  ]);
  assertKeys(t, waited, ['id', 'state', 'result'], 'task submit --wait');
  t.is(waited.state, 'done');
  t.deepEqual((waited.result as { echo: unknown }).echo, { n: 2 });

  const got = await hiveJson(t, daemon, ['task', 'get', String(waited.id)]);
  assertKeys(t, got, ['id', 'type', 'state', 'attempts', 'result'], 'task get');
  t.is(got.id, waited.id);
  t.is(got.type, 'echo');
  t.is(got.state, 'done');
  t.is(got.attempts, 1);

  const listed = await hiveJson(t, daemon, ['task', 'ls', '--state', 'done', '--limit', '10']);
  const tasks = listed.tasks as { id: string; state: string }[];
  t.true(Array.isArray(tasks));
  t.true(tasks.some((task) => task.id === waited.id));
  t.true(tasks.every((task) => task.state === 'done'));
  const limited = await hiveJson(t, daemon, ['task', 'ls', '--limit', '1']);
  t.is((limited.tasks as unknown[]).length, 1);

  // Same key, same task.
  const keyed = await hiveJson(t, daemon, ['task', 'submit', 'echo', '--key', 'k-1']);
  const again = await hiveJson(t, daemon, ['task', 'submit', 'echo', '--key', 'k-1']);
  t.is(again.id, keyed.id);

  const botList = await hiveJson(t, daemon, ['bots', 'ls']);
  const listedBots = botList.bots as Json[];
  t.is(listedBots.length, 2);
  for (const bot of listedBots)
    assertKeys(t, bot, ['name', 'kind', 'pid', 'state', 'restarts', 'tasksDone'], 'bots ls[]');

  const before = listedBots.find((b) => b.name === 'echo-0') as { pid: number; restarts: number };
  const restarted = await hiveJson(t, daemon, ['bots', 'restart', 'echo-0']);
  assertKeys(t, restarted, ['name', 'kind', 'pid', 'state', 'restarts'], 'bots restart');
  t.is(restarted.name, 'echo-0');
  t.is(restarted.restarts, before.restarts + 1);
  t.not(restarted.pid, before.pid);

  const scaled = await hiveJson(t, daemon, ['bots', 'scale', 'echo', '0']);
  t.deepEqual(scaled, { kind: 'echo', from: 2, to: 0 });

  // With no bot, a waited submission times out: exit 3, and the task goes on existing.
  const timedOut = await hiveJson(
    t,
    daemon,
    ['task', 'submit', 'echo', '--wait', '--wait-timeout', '300'],
    3,
  );
  assertKeys(t, timedOut, ['id', 'state'], 'task submit --wait (timed out)');
  t.is(timedOut.state, 'queued');
  t.is(timedOut.timedOut, true);

  const waitTimedOut = await hiveJson(
    t,
    daemon,
    ['task', 'wait', String(timedOut.id), '--timeout', '200'],
    3,
  );
  t.is(waitTimedOut.timedOut, true);
  const humanTimeout = await runHive([
    'task',
    'wait',
    String(timedOut.id),
    '--timeout',
    '200',
    '--socket',
    daemon.socket,
  ]);
  t.is(humanTimeout.code, 3);
  t.regex(humanTimeout.stdout, /still queued/);

  const cancelled = await hiveJson(t, daemon, ['task', 'cancel', String(timedOut.id)]);
  t.deepEqual(cancelled, { id: timedOut.id, state: 'cancelled' });
  // Cancelling it again is a command error.
  const twice = await hiveJson(t, daemon, ['task', 'cancel', String(timedOut.id)], 1);
  t.is((twice.error as { code: string }).code, 'HIVE_TASK_ALREADY_FINAL');
  const waitAgain = await hiveJson(t, daemon, ['task', 'wait', String(timedOut.id)], 1);
  t.is(waitAgain.state, 'cancelled');
});

test('command errors exit 1 with one line on stderr (or a JSON error with --json)', async (t) => {
  const daemon = await startDaemon(t, {
    // "other" is routed to the echo bot, which has no handler for it: the task fails.
    config: { bots: { echo: echoBot({ taskTypes: ['echo', 'other'] }) } },
  });
  await waitForReadyBots(daemon, 1);
  const cases: { args: string[]; code: string }[] = [
    { args: ['task', 'submit', 'no-such-type'], code: 'HIVE_TASK_UNKNOWN_TYPE' },
    { args: ['task', 'submit', 'echo', '--payload', '{not json'], code: 'HIVE_IPC_BAD_ARGS' },
    { args: ['task', 'submit', 'echo', '--priority', 'high'], code: 'HIVE_IPC_BAD_ARGS' },
    { args: ['task', 'submit'], code: 'HIVE_IPC_BAD_ARGS' },
    { args: ['task', 'submit', 'echo', '--no-such-flag'], code: 'HIVE_IPC_BAD_ARGS' },
    { args: ['task', 'get', 'tdoesnotexist'], code: 'HIVE_TASK_NOT_FOUND' },
    { args: ['task', 'ls', '--state', 'sleeping'], code: 'HIVE_IPC_BAD_ARGS' },
    { args: ['frobnicate'], code: 'HIVE_IPC_UNKNOWN_COMMAND' },
    { args: ['task', 'frobnicate'], code: 'HIVE_IPC_UNKNOWN_COMMAND' },
    { args: ['bots', 'scale', 'nokind', '1'], code: 'HIVE_BOT_KIND_NOT_FOUND' },
    { args: ['bots', 'scale', 'echo', 'many'], code: 'HIVE_IPC_BAD_ARGS' },
    { args: ['bots', 'restart', 'nobody-0'], code: 'HIVE_BOT_NOT_FOUND' },
  ];
  await Promise.all(
    cases.map(async ({ args, code }) => {
      const human = await runHive([...args, '--socket', daemon.socket]);
      t.is(human.code, 1, `hive ${args.join(' ')}: ${human.stderr}`);
      t.is(human.stdout, '', `hive ${args.join(' ')} prints nothing on stdout`);
      const line = oneLine(human);
      t.regex(line, /^hive: /, `hive ${args.join(' ')}`);
      t.true(line.includes(`[${code}]`), `hive ${args.join(' ')}: ${line}`);

      const json = await hiveJson(t, daemon, args, 1);
      t.is(json.ok, false);
      t.is((json.error as { code: string }).code, code, `hive ${args.join(' ')} --json`);
    }),
  );

  // A waited task that fails is a command error too.
  const failed = await hiveJson(t, daemon, ['task', 'submit', 'other', '--wait'], 1);
  t.is(failed.state, 'failed');
  assertKeys(t, failed, ['id', 'state', 'error'], 'failed task');

  // The daemon is still fine after all of that.
  t.is((await hiveJson(t, daemon, ['status'])).daemon !== undefined, true);
});

test('daemon unreachable: exit 2 and one line that says it is not running and how to start it', async (t) => {
  const missing = join(tempDir(t), 'state', 'run', 'hived.sock');
  const human = await runHive(['status', '--socket', missing]);
  t.is(human.code, 2);
  t.is(human.stdout, '');
  const line = oneLine(human);
  t.regex(line, /not running/, line);
  t.regex(line, /start/, line);
  t.true(line.includes(missing), `names the socket: ${line}`);

  const json = await runHive(['task', 'ls', '--json', '--socket', missing]);
  t.is(json.code, 2);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; error: { code: string } };
  t.is(parsed.error.code, 'HIVE_IPC_UNREACHABLE');

  // HIVE_STATE_DIR steers the client: same answer for a state dir with no daemon.
  const viaEnv = await runHive(['status'], { HIVE_STATE_DIR: join(tempDir(t), 'nothing-here') });
  t.is(viaEnv.code, 2);
  t.regex(oneLine(viaEnv), /not running/);

  // A socket file left by a daemon killed with SIGKILL: still "not running", still exit 2.
  const daemon = await startDaemon(t, { config: { bots: {} } });
  daemon.kill('SIGKILL');
  await daemon.exited;
  t.true(existsSync(daemon.socket), 'the dead daemon left its socket file');
  const stale = await runHive(['task', 'submit', 'echo', '--socket', daemon.socket]);
  t.is(stale.code, 2);
  const staleLine = oneLine(stale);
  t.regex(staleLine, /not running/, staleLine);
  t.regex(staleLine, /start/, staleLine);
});

test('the client finds the daemon through HIVE_STATE_DIR and HIVE_SOCKET; hive stop stops it with exit 0', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot() } } });
  const byStateDir = await runHive(['status', '--json'], { HIVE_STATE_DIR: daemon.stateDir });
  t.is(byStateDir.code, 0, byStateDir.stderr);
  t.is((JSON.parse(byStateDir.stdout) as { daemon: { pid: number } }).daemon.pid, pidOf(daemon));
  const bySocket = await runHive(['status', '--json'], { HIVE_SOCKET: daemon.socket });
  t.is(bySocket.code, 0, bySocket.stderr);
  const byFlag = await runHive(['status', '--json', '--state-dir', daemon.stateDir]);
  t.is(byFlag.code, 0, byFlag.stderr);

  const stop = await runHive(['stop', '--json', '--socket', daemon.socket]);
  t.is(stop.code, 0, stop.stderr);
  t.deepEqual(JSON.parse(stop.stdout), { stopped: true, pid: pidOf(daemon) });
  // `hive stop` waits for the daemon to go: by now it has exited, cleanly.
  t.deepEqual(await daemon.exited, { code: 0, signal: null });
  t.true(existsSync(join(daemon.stateDir, 'run', 'shutdown.marker')));

  const after = await runHive(['status', '--socket', daemon.socket]);
  t.is(after.code, 2);
  t.regex(oneLine(after), /not running/);

  const restarted = await startDaemon(t, { stateDir: daemon.stateDir });
  const status = await runHive(['status', '--json', '--socket', restarted.socket]);
  t.is((JSON.parse(status.stdout) as { daemon: { lastStart: string } }).daemon.lastStart, 'clean');
});
