/**
 * kill -9 inside a backup and inside a restore. HIVE_TEST_PAUSE_AT freezes
 * hived at a named point of the operation (it prints HIVE_TEST_PAUSED and
 * waits), so the SIGKILL lands exactly there every time, whatever the
 * machine's load. The next start must load the old or the new state,
 * never a mix, and every backup must still verify.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { HiveError } from '../../protocol/errors.ts';
import { type DaemonHandle, echoBot, startDaemon } from '../helpers/daemon.ts';
import { backups, dbFiles, hive, submit, taskStates, waitForPause } from '../helpers/recovery.ts';

/** Two kinds, no bots: tasks stay queued, so states only change when the test says. */
const config = {
  bots: { echo: echoBot({ instances: 0 }), spare: echoBot({ instances: 0, taskTypes: ['spare'] }) },
};

/** Sends a request whose answer never comes (hived is frozen, then killed). */
async function fire(daemon: DaemonHandle, cmd: string, args: Record<string, unknown>) {
  const connection = await daemon.connect();
  connection.request(cmd, args).catch((error: unknown) => {
    if (!(error instanceof HiveError && error.code === 'HIVE_IPC_CLOSED')) throw error;
  });
}

async function killAt(daemon: DaemonHandle, point: string): Promise<void> {
  await waitForPause(daemon, point);
  daemon.kill('SIGKILL');
  await daemon.exited;
}

async function verifiesAll(stateDir: string): Promise<boolean> {
  const result = await hive(stateDir, ['backup', 'verify', '--all', '--json']);
  return result.code === 0 && (result.json as { ok: boolean }).ok;
}

test('kill -9 during a backup: no half backup is left or listed, the state is intact', async (t) => {
  const first = await startDaemon(t, { config });
  const ids = [await submit(first), await submit(first)];
  const { id: good } = (await first.call('backup.create', {})) as { id: string };
  first.kill('SIGTERM');
  await first.exited;

  const second = await startDaemon(t, {
    stateDir: first.stateDir,
    config,
    env: { HIVE_TEST_PAUSE_AT: 'backup:files-written' },
  });
  ids.push(await submit(second));
  await fire(second, 'backup.create', { tag: 'interrupted' });
  await killAt(second, 'backup:files-written');
  t.true(
    readdirSync(join(first.stateDir, 'backups')).some((n) => n.startsWith('.partial-')),
    'the kill left a half-written backup',
  );

  const third = await startDaemon(t, { stateDir: first.stateDir, config });
  t.deepEqual(
    (await backups(third)).map((b) => b.id),
    [good],
  );
  t.false(readdirSync(join(first.stateDir, 'backups')).some((n) => n.startsWith('.partial-')));
  t.regex(third.output(), /removed backups the last run left half-written/);
  t.deepEqual([...(await taskStates(third)).keys()].sort(), [...ids].sort());
  t.true(await verifiesAll(first.stateDir));
});

/**
 * Old state: four tasks, three of them cancelled, two more submitted, spare scaled (an override
 * in the registry). New state (the backup, plus the tasks it lacks): every
 * task queued, no override. (Scaling spare to 1 starts one bot: an override
 * exists only while it differs from the config.)
 */
function restoreKilledAt(point: string) {
  return async (t: ExecutionContext) => {
    const first = await startDaemon(t, { config, env: { HIVE_TEST_PAUSE_AT: point } });
    const a = [await submit(first), await submit(first), await submit(first), await submit(first)];
    const { id } = (await first.call('backup.create', {})) as { id: string };
    for (const taskId of a.slice(0, 3)) await first.call('task.cancel', { id: taskId });
    const b = [await submit(first), await submit(first)];
    await first.call('bots.scale', { kind: 'spare', instances: 1 });
    await fire(first, 'backup.restore', { id });
    await killAt(first, point);

    const second = await startDaemon(t, { stateDir: first.stateDir, config });
    const states = await taskStates(second);
    const registry = JSON.parse(
      readFileSync(join(first.stateDir, 'db', 'registry.json'), 'utf8'),
    ) as { scale: Record<string, unknown> };
    const old = {
      tasks: [...a.slice(0, 3).map(() => 'cancelled'), 'queued', 'queued', 'queued'],
      override: true,
    };
    const restored = { tasks: a.concat(b).map(() => 'queued'), override: false };
    const seen = {
      tasks: [...a, ...b].map((taskId) => states.get(taskId)),
      override: 'spare' in registry.scale,
    };
    t.is(states.size, 6, 'no task lost or invented');
    t.true(
      JSON.stringify(seen) === JSON.stringify(old) ||
        JSON.stringify(seen) === JSON.stringify(restored),
      `old or new, never a mix: ${JSON.stringify(seen)}`,
    );
    t.false(
      dbFiles(first.stateDir).some((n) => n.startsWith('.install-') || n === 'install.intent.json'),
      'nothing staged is left behind',
    );
    t.true(await verifiesAll(first.stateDir), 'every backup still verifies');
    return { seen, old, restored, second };
  };
}

test('kill -9 during a restore before its commit point: the old state', async (t) => {
  const run = restoreKilledAt('install:staged');
  const { seen, old } = await run(t);
  t.deepEqual(seen, old);
});

test('kill -9 during a restore right after its commit point: the new state', async (t) => {
  const run = restoreKilledAt('install:committed');
  const { seen, restored, second } = await run(t);
  t.deepEqual(seen, restored);
  t.regex(
    second.output(),
    /completed "restore of .*" \(started .*\), interrupted by the last stop/,
  );
});

test('kill -9 during a restore with some files moved: the new state', async (t) => {
  const run = restoreKilledAt('install:partial');
  const { seen, restored } = await run(t);
  t.deepEqual(seen, restored);
});
