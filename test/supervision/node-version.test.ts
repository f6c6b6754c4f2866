/**
 * On a Node older than hive supports, `hive` and `hived` refuse in one line
 * (a machine's system Node may be 20 while the project pins 24).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import test from 'ava';
import { collectOutput } from '../../client/child-output.ts';
import { MINIMUM_NODE } from '../../protocol/require-node.js';
import { type CliResult, HIVE, HIVED, tempDir } from '../helpers/daemon.ts';

function older(version: string, than: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [x = 0, y = 0] = than.split('.').map(Number);
  return a < x || (a === x && b < y);
}

/** The first `node` on PATH (or a usual place) that is not the project's and is too old. */
function findOldNode(): { path: string; version: string } | undefined {
  const candidates = [
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'node')),
    '/usr/local/bin/node',
    '/usr/bin/node',
  ];
  const ours = realpathSync(process.execPath);
  const seen = new Set<string>();
  for (const candidate of candidates) {
    if (candidate.includes('node_modules')) continue;
    let real: string;
    try {
      accessSync(candidate, constants.X_OK);
      real = realpathSync(candidate);
    } catch {
      continue;
    }
    if (real === ours || seen.has(real)) continue;
    seen.add(real);
    const probe = spawnSync(candidate, ['-p', 'process.versions.node'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    const version = probe.stdout?.trim();
    if (probe.status === 0 && version && older(version, MINIMUM_NODE))
      return { path: candidate, version };
  }
  return undefined;
}

const oldNode = findOldNode();
const needsOldNode = oldNode ? test : test.skip;
if (!oldNode)
  console.warn(
    `no Node older than ${MINIMUM_NODE} on this machine: Node version refusal tests skipped`,
  );

function run(node: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return collectOutput(
    spawn(node, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

function assertRefusal(
  t: import('ava').ExecutionContext,
  program: string,
  result: CliResult,
  version: string,
) {
  t.not(result.code, 0, `${program} exited 0 on Node ${version}`);
  t.is(result.stdout, '');
  const lines = result.stderr.split('\n').filter((l) => l.length > 0);
  t.is(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  t.regex(
    lines[0] ?? '',
    new RegExp(
      `^${program}: Node\\.js ${version.replaceAll('.', '\\.')} is too old; hive needs Node\\.js >= ${MINIMUM_NODE.replace('.', '\\.')}`,
    ),
  );
}

needsOldNode(`hive on an old Node says so in one line and exits non-zero`, async (t) => {
  const { path, version } = oldNode!;
  t.log(`old Node: ${path} (${version})`);
  assertRefusal(t, 'hive', await run(path, [HIVE, 'status']), version);
  assertRefusal(t, 'hive', await run(path, [HIVE, '--help']), version);
});

needsOldNode(
  `hived on an old Node says so in one line, exits non-zero and touches no state`,
  async (t) => {
    const { path, version } = oldNode!;
    const stateDir = join(tempDir(t), 'state');
    assertRefusal(t, 'hived', await run(path, [HIVED, '--state-dir', stateDir]), version);
    t.false(existsSync(stateDir), 'hived created its state directory before refusing');
    assertRefusal(t, 'hived', await run(path, [HIVED], { HIVE_STATE_DIR: stateDir }), version);
  },
);
