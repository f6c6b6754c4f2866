/**
 * One daemon per state directory: a second hived is refused with one clear
 * line, and the first keeps its socket, its lock and its work.
 */
import { existsSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  type DaemonHandle,
  echoBot,
  startDaemon,
  status,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { pidOf } from '../helpers/process.ts';

const config = { bots: { echo: echoBot() } };

/** Starts a second hived that is expected to be refused; returns its one line. */
async function refusedStart(
  t: ExecutionContext,
  options: { stateDir: string; args?: string[] },
): Promise<string> {
  const second = await startDaemon(t, { ...options, noWait: true });
  const exit = await second.exited;
  t.not(exit.code, 0, 'the second hived exits non-zero');
  t.is(exit.signal, null, 'the second hived exits by itself');
  const lines = second
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '');
  t.is(lines.length, 1, `exactly one line of output:\n${second.output()}`);
  return lines[0] ?? '';
}

async function assertUnharmed(t: ExecutionContext, first: DaemonHandle): Promise<void> {
  t.is(first.process.exitCode, null, 'the first hived still runs');
  t.true(existsSync(first.socket), 'its socket file is still there');
  t.true(statSync(first.socket).isSocket());
  const s = await status(first);
  t.is(s.daemon.pid, pidOf(first), 'its socket still answers, from the first daemon');
  const lock = JSON.parse(readFileSync(join(first.stateDir, 'run', 'hived.lock'), 'utf8')) as {
    pid: number;
  };
  t.is(lock.pid, pidOf(first), 'the lock record still names the first daemon');
  const done = (await first.call('task.submit', { type: 'echo', payload: 1, wait: true })) as {
    state: string;
  };
  t.is(done.state, 'done', 'the first daemon still runs tasks');
}

test('a second hived on the same state directory is refused with one line; the first is unharmed', async (t) => {
  const first = await startDaemon(t, { config });
  await waitForReadyBots(first, 1);
  const line = await refusedStart(t, { stateDir: first.stateDir });
  t.regex(line, /^hived: /);
  t.true(line.includes('already owns state directory'), line);
  t.true(line.includes(`pid ${pidOf(first)}`), `names the holder: ${line}`);
  t.true(line.includes('hive stop') || line.includes('--state-dir'), `says what to do: ${line}`);
  await assertUnharmed(t, first);
});

test('the lock follows the real path: a symlink to a live state directory is refused', async (t) => {
  const first = await startDaemon(t, { config });
  const alias = join(tempDir(t), 'alias');
  symlinkSync(first.stateDir, alias);
  const line = await refusedStart(t, { stateDir: alias });
  t.true(line.includes('already owns state directory'), line);
  await assertUnharmed(t, first);
});

test('a hived on another state directory never steals a live socket', async (t) => {
  const first = await startDaemon(t, { config });
  const other = join(tempDir(t), 'other-state');
  const line = await refusedStart(t, { stateDir: other, args: ['--socket', first.socket] });
  t.true(line.includes(`already answers on ${first.socket}`), line);
  t.false(
    line.includes('owns state directory'),
    `does not blame the other state directory: ${line}`,
  );
  await assertUnharmed(t, first);
});

test('two daemons started at the same moment: exactly one wins', async (t) => {
  const stateDir = join(tempDir(t), 'state');
  const a = await startDaemon(t, { stateDir, config, noWait: true });
  const b = await startDaemon(t, { stateDir, config, noWait: true });
  const loser = await waitFor(
    () => (a.process.exitCode !== null ? a : b.process.exitCode !== null ? b : undefined),
    { timeoutMs: 20_000, what: 'one of the two daemons to give up' },
  );
  const winner = loser === a ? b : a;
  const exit = await loser.exited;
  t.not(exit.code, 0);
  t.true(loser.output().includes('already owns state directory'), loser.output());
  const s = await waitForReadyBots(winner, 1);
  t.is(s.daemon.pid, pidOf(winner));
  t.is(winner.process.exitCode, null);
});
