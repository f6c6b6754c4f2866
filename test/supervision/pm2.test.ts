/**
 * hived under pm2, through the real ecosystem.config.js, with a private
 * PM2_HOME. pm2 runs on this Node (24); the ecosystem file picks the
 * project's pinned Node for hived. The pm2 God daemon is always killed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { collectOutput } from '../../client/child-output.ts';
import {
  echoBot,
  ROOT,
  runHive,
  type Status,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/daemon.ts';

const PM2 = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const ECOSYSTEM = join(ROOT, 'ecosystem.config.js');
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Pm2App {
  name: string;
  pid: number;
  pm2_env: { status: string; exec_interpreter: string; restart_time: number; kill_timeout: number };
}

async function pm2(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [PM2, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const out = await collectOutput(child);
  clearTimeout(timer);
  if (timedOut)
    throw new Error(
      `pm2 ${args.join(' ')} took over ${timeoutMs} ms:\n${out.stdout}\n${out.stderr}`,
    );
  return { ...out, ms: Date.now() - started };
}

async function jlist(env: NodeJS.ProcessEnv): Promise<Pm2App[]> {
  const run = await pm2(['jlist'], env);
  if (run.code !== 0) throw new Error(`pm2 jlist exited ${run.code}: ${run.stderr}`);
  // pm2 may print notices before the JSON.
  return JSON.parse(run.stdout.slice(run.stdout.indexOf('['))) as Pm2App[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('pm2 start ecosystem.config.js: ready, online, hive status answers; restarted after a crash; pm2 stop is a clean stop', async (t) => {
  const dir = tempDir(t, 'hive-pm2-');
  const stateDir = join(dir, 'state');
  const env: NodeJS.ProcessEnv = {
    PM2_HOME: join(dir, 'pm2'),
    PM2_DISABLE_VERSION_CHECK: 'true',
    HIVE_STATE_DIR: stateDir,
  };
  writeConfig(stateDir, { bots: { echo: echoBot({ instances: 1 }) } });

  // Never leave a pm2 God daemon behind, whatever happened above.
  t.teardown(async () => {
    const godPidFile = join(dir, 'pm2', 'pm2.pid');
    const godPid = existsSync(godPidFile) ? Number(readFileSync(godPidFile, 'utf8')) : undefined;
    await pm2(['kill'], env).catch(() => undefined);
    if (godPid && alive(godPid)) process.kill(godPid, 'SIGKILL');
  });

  const hiveStatus = async (): Promise<Status> => {
    const run = await runHive(['status', '--json', '--state-dir', stateDir]);
    if (run.code !== 0) throw new Error(`hive status exited ${run.code}: ${run.stderr}`);
    return JSON.parse(run.stdout) as Status;
  };
  const online = () =>
    waitFor(
      async () => {
        const app = (await jlist(env)).find((a) => a.name === 'hived');
        return app?.pm2_env.status === 'online' && app.pid > 0 ? app : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'pm2 to show hived online' },
    );

  const start = await pm2(['start', ECOSYSTEM], env);
  t.is(start.code, 0, `${start.stdout}\n${start.stderr}`);
  // wait_ready: `pm2 start` returns once hived sent 'ready' (its socket
  // listens), well before listen_timeout (30 s) would have let it through.
  t.true(start.ms < 25_000, `pm2 start took ${start.ms} ms: no 'ready' from hived?`);
  const first = await hiveStatus(); // no polling: the socket listens already
  const app = await online();
  t.is(first.daemon.pid, app.pid);
  t.is(app.pm2_env.exec_interpreter, PINNED_NODE);
  t.true(app.pm2_env.kill_timeout > 10_000, 'kill_timeout must exceed the drain timeout');
  t.is((first as Status & { daemon: { node: string } }).daemon.node, process.version);
  t.true(existsSync(join(stateDir, 'run', 'hived.sock')));
  t.false(existsSync(join(stateDir, 'run', 'shutdown.marker')));

  // autorestart: a crashed hived is brought back (after the backoff delay)
  // and reports the crash.
  process.kill(app.pid, 'SIGKILL');
  const revived = await waitFor(
    async () => {
      const s = await hiveStatus();
      return s.daemon.pid !== app.pid ? s : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'pm2 to restart the killed hived' },
  );
  t.is(revived.daemon.lastStart, 'crash');
  const current = await online();
  t.is(current.pid, revived.daemon.pid);
  t.is(current.pm2_env.restart_time, 1);

  const stop = await pm2(['stop', 'hived'], env);
  t.is(stop.code, 0, stop.stderr);
  await waitFor(
    async () => (await jlist(env)).find((a) => a.name === 'hived')?.pm2_env.status === 'stopped',
    { timeoutMs: 30_000, intervalMs: 200, what: 'pm2 to show hived stopped' },
  );
  t.false(alive(current.pid), 'hived still running after pm2 stop');
  t.true(existsSync(join(stateDir, 'run', 'shutdown.marker')), 'no clean shutdown marker');
  const out = readFileSync(join(stateDir, 'logs', 'pm2-out.log'), 'utf8');
  t.regex(out, /stopped cleanly/);
  const god = readFileSync(join(dir, 'pm2', 'pm2.log'), 'utf8');
  t.notRegex(god, /sending SIGKILL/, 'pm2 had to SIGKILL hived');

  const again = await pm2(['start', 'hived'], env);
  t.is(again.code, 0, again.stderr);
  const restarted = await waitFor(
    async () => {
      const s = await hiveStatus();
      return s.daemon.pid !== current.pid ? s : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'the restarted hived to answer' },
  );
  t.is(restarted.daemon.lastStart, 'clean');
});
