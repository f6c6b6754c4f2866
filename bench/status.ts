/**
 * Benchmark 1: `hive status` end to end (spawn → exit) against a running
 * daemon, interleaved with `node -e 0` on the same Node and, when a pm2 God
 * daemon is up, `pm2 jlist`. Interleaving spreads the machine's noise over
 * every contestant alike.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HIVE, NODE, ROOT, type Summary, summarize, track } from './lib.ts';
import type { Pm2Peer } from './pm2.ts';

export interface StatusResult {
  runs: number;
  hiveStatusMs: Summary;
  nodeBaselineMs: Summary;
  pm2JlistMs?: Summary;
  /**
   * Where the time goes (diagnostics, same interleaving): an ES module that
   * imports node:net; one that loads the client's modules (client/cli.ts and
   * what it imports, from the compile cache) without connecting.
   */
  breakdownMs: { importNet: Summary; loadClientModules: Summary };
  /** hive status median / node -e 0 median. */
  ratioToNode: number;
}

/** Runs a command to completion; resolves with its wall time in ms. */
export function timeRun(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = track(spawn(file, args, { stdio: 'ignore', ...(env ? { env } : {}) }));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - start;
      if (code === 0) resolve(ms);
      else reject(new Error(`${file} ${args.join(' ')} exited with ${code}`));
    });
  });
}

export async function benchStatus(options: {
  stateDir: string;
  runs: number;
  pm2?: Pm2Peer;
}): Promise<StatusResult> {
  const cli = pathToFileURL(join(ROOT, 'client', 'cli.ts')).href;
  const contestants: { name: string; run: () => Promise<number> }[] = [
    { name: 'node', run: () => timeRun(NODE, ['-e', '0']) },
    { name: 'hive', run: () => timeRun(NODE, [HIVE, 'status', '--state-dir', options.stateDir]) },
    { name: 'net', run: () => timeRun(NODE, ['--input-type=module', '-e', "import 'node:net';"]) },
    {
      name: 'cli',
      run: () =>
        timeRun(NODE, [
          '--input-type=module',
          '-e',
          `(await import('node:module')).enableCompileCache(); await import(${JSON.stringify(cli)});`,
        ]),
    },
  ];
  const { pm2 } = options;
  if (pm2) contestants.push({ name: 'pm2', run: () => pm2.jlist() });
  const samples: Record<string, number[]> = { hive: [], node: [], pm2: [], net: [], cli: [] };
  // Warm-up: fills Node's compile cache for the client and the page cache.
  for (let i = 0; i < 3; i++) for (const c of contestants) await c.run();
  for (let round = 0; round < options.runs; round++) {
    // Rotate the order so that no contestant always runs right after another.
    for (let k = 0; k < contestants.length; k++) {
      const c = contestants[(round + k) % contestants.length];
      if (c) samples[c.name]?.push(await c.run());
    }
  }
  const hive = summarize(samples.hive ?? []);
  const node = summarize(samples.node ?? []);
  return {
    runs: options.runs,
    hiveStatusMs: hive,
    nodeBaselineMs: node,
    ...(pm2 ? { pm2JlistMs: summarize(samples.pm2 ?? []) } : {}),
    breakdownMs: {
      importNet: summarize(samples.net ?? []),
      loadClientModules: summarize(samples.cli ?? []),
    },
    ratioToNode: hive.median / node.median,
  };
}
