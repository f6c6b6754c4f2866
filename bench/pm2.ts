/**
 * The pm2 peer: a pm2 7 God daemon on a private PM2_HOME with four trivial
 * apps (an idle Node loop each), on the same Node as hived. Used for the
 * `pm2 jlist` timing beside `hive status` and the God daemon's idle RSS
 * beside hived's.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, isAlive, NODE, ROOT, removeTempDir, tempDir, track, waitFor } from './lib.ts';
import { timeRun } from './status.ts';

const PM2 = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');

export interface Pm2Peer {
  godPid: number;
  appPids: number[];
  jlist(): Promise<number>;
  stop(): Promise<void>;
}

export async function startPm2(apps = 4): Promise<Pm2Peer | undefined> {
  if (!existsSync(PM2)) return undefined;
  const dir = tempDir('hive-bench-pm2-');
  const home = join(dir, 'home');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PM2_HOME: home,
    PM2_DISABLE_VERSION_CHECK: 'true',
  };
  const script = join(dir, 'idle.cjs');
  writeFileSync(script, 'setInterval(() => {}, 1000);\n');
  const ecosystem = join(dir, 'ecosystem.json');
  writeFileSync(
    ecosystem,
    JSON.stringify({
      apps: Array.from({ length: apps }, (_, i) => ({
        name: `idle-${i}`,
        script,
        interpreter: NODE,
        autorestart: true,
      })),
    }),
  );
  const pm2 = (args: string[]) =>
    new Promise<number | null>((resolve) => {
      const child = track(spawn(NODE, [PM2, ...args], { env, stdio: 'ignore' }));
      resolve(exitOf(child));
    });
  const pm2Output = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = track(
        spawn(NODE, [PM2, ...args], { env, stdio: ['ignore', 'pipe', 'ignore'] }),
      );
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`pm2 ${code}`))));
    });
  const kill = async () => {
    await pm2(['kill']);
  };
  try {
    if ((await pm2(['start', ecosystem])) !== 0) throw new Error('pm2 start failed');
    const pidFile = join(home, 'pm2.pid');
    const godPid = Number(readFileSync(pidFile, 'utf8').trim());
    // The apps' pids as pm2 itself reports them, once all are online.
    const appPids = await waitFor(
      async () => {
        const list = JSON.parse(await pm2Output(['jlist'])) as {
          pid?: number;
          pm2_env?: { status?: string };
        }[];
        const online = list.filter((p) => p.pm2_env?.status === 'online' && p.pid);
        return online.length === apps ? online.map((p) => p.pid as number) : undefined;
      },
      'pm2 apps to be online',
      15_000,
      100,
    );
    return {
      godPid,
      appPids,
      jlist: () => timeRun(NODE, [PM2, 'jlist'], env),
      stop: async () => {
        await kill();
        await waitFor(
          () => ([godPid, ...appPids].some(isAlive) ? undefined : true),
          'pm2 God and apps to exit',
          10_000,
        );
        removeTempDir(dir);
      },
    };
  } catch (error) {
    process.stderr.write(`pm2 peer skipped: ${String(error)}\n`);
    await kill().catch(() => {});
    removeTempDir(dir);
    return undefined;
  }
}
