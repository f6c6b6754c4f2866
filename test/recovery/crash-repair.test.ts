/**
 * Damaged state at start, against real daemons: a truncated or deleted
 * queue is rebuilt from the newest good backup (plus the journal), and
 * what cannot be repaired puts hived in safe mode instead of a crash loop.
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { type DaemonHandle, echoBot, startDaemon, status, waitFor } from '../helpers/daemon.ts';
import { pidOf } from '../helpers/process.ts';
import { dbFiles, flipByte, hive, submit, taskStates } from '../helpers/recovery.ts';

const queueOnly = { bots: { echo: echoBot({ instances: 0 }) } };

interface RecoveryStatus {
  mode: string;
  lastStart: string;
  safeMode?: { reason: string; hint: string };
  stateFiles: { file: string; status: string; detail: string }[];
  repairs: { file: string; problem: string; action: string; backupId?: string; lost?: string }[];
  problems: string[];
}

async function recoveryStatus(daemon: DaemonHandle): Promise<RecoveryStatus> {
  return (await daemon.call('recovery.status')) as RecoveryStatus;
}

async function stopCleanly(daemon: DaemonHandle): Promise<void> {
  daemon.kill('SIGTERM');
  const exit = await daemon.exited;
  if (exit.code !== 0) throw new Error(`hived exited ${exit.code}: ${daemon.output()}`);
}

async function backupId(daemon: DaemonHandle, kind = 'full'): Promise<string> {
  return ((await daemon.call('backup.create', { kind })) as { id: string }).id;
}

test('kill -9, then a truncated queue snapshot: rebuilt from the backup plus the journal, nothing lost', async (t) => {
  const first = await startDaemon(t, { config: queueOnly });
  const early = [await submit(first), await submit(first), await submit(first)];
  await stopCleanly(first); // the snapshot now holds them
  const second = await startDaemon(t, { stateDir: first.stateDir, config: queueOnly });
  const backup = await backupId(second);
  await second.call('task.cancel', { id: early[0] });
  const late = [await submit(second), await submit(second)];
  second.kill('SIGKILL');
  await second.exited;
  const snapshot = join(first.stateDir, 'db', 'queue.json');
  truncateSync(snapshot, Math.floor(readFileSync(snapshot).length / 2));

  const third = await startDaemon(t, { stateDir: first.stateDir, config: queueOnly });
  t.is((await status(third)).daemon.lastStart, 'crash');
  const states = await taskStates(third);
  t.deepEqual(
    [...early, ...late].map((id) => states.get(id)),
    ['cancelled', 'queued', 'queued', 'queued', 'queued'],
    'the backup holds the early tasks, the journal the cancel and the late ones',
  );
  const report = await recoveryStatus(third);
  const repair = report.repairs[0];
  t.is(repair?.file, 'db/queue.json');
  t.regex(repair?.problem ?? '', /cannot be read/);
  t.is(repair?.backupId, backup);
  t.regex(repair?.action ?? '', /rebuilt from backup .* plus 3 journal records after it/);
  t.is(repair?.lost, undefined, 'nothing was lost');
  t.true(report.stateFiles.some((f) => f.file === 'db/queue.json' && f.status === 'repaired'));
  const damaged = readdirSync(join(first.stateDir, 'db', 'damaged'));
  t.is(damaged.length, 1);
  t.true(existsSync(join(first.stateDir, 'db', 'damaged', damaged[0] as string, 'queue.json')));
  t.regex(third.output(), /repaired db\/queue\.json/);
  const text = await hive(third.stateDir, ['recovery', 'status']);
  t.regex(text.stdout, /last start: crash/);
  t.regex(text.stdout, /repaired db\/queue\.json: db\/queue\.json cannot be read/);
});

test('queue files deleted, newest backup damaged: the newest good backup is used and the loss reported', async (t) => {
  const first = await startDaemon(t, { config: queueOnly });
  const kept = [await submit(first), await submit(first)];
  const older = await backupId(first, 'queue');
  const gone = await submit(first);
  const newer = await backupId(first);
  await stopCleanly(first);
  flipByte(join(first.stateDir, 'backups', newer, 'queue.json'));
  for (const name of dbFiles(first.stateDir))
    if (name.startsWith('queue.')) rmSync(join(first.stateDir, 'db', name));

  const second = await startDaemon(t, { stateDir: first.stateDir, config: queueOnly });
  const states = await taskStates(second);
  t.deepEqual([...states.keys()].sort(), [...kept].sort());
  t.false(states.has(gone));
  const report = await recoveryStatus(second);
  t.is(report.repairs[0]?.backupId, older);
  t.regex(report.repairs[0]?.problem ?? '', /the queue files .* are gone/);
  t.regex(
    report.repairs[0]?.lost ?? '',
    /unknown: changes after seq \d+ that only db\/queue\.json held/,
  );
  t.true(report.problems.some((p) => p.includes('lost')));
  t.regex(second.output(), new RegExp(`backup ${newer} is not usable for repair: queue\\.json`));
  // Restarting again is a plain start: the repair made a sound state.
  await stopCleanly(second);
  const third = await startDaemon(t, { stateDir: first.stateDir, config: queueOnly });
  t.deepEqual((await recoveryStatus(third)).repairs, []);
  t.is((await taskStates(third)).size, 2);
});

test('an unparseable snapshot and no backup: safe mode, a clear reason, no crash loop', async (t) => {
  const first = await startDaemon(t, { config: queueOnly });
  await submit(first);
  await stopCleanly(first);
  writeFileSync(join(first.stateDir, 'db', 'queue.json'), '{"format":1,"seq":');

  const second = await startDaemon(t, { stateDir: first.stateDir, config: queueOnly });
  const s = (await second.call('status')) as { daemon: { mode: string; safeMode: string } };
  t.is(s.daemon.mode, 'safe');
  t.regex(s.daemon.safeMode, /db\/queue\.json cannot be read/);
  const text = await hive(second.stateDir, ['status']);
  t.is(text.code, 0);
  t.regex(text.stdout, /SAFE MODE: nothing is dispatched/);
  const refused = await hive(second.stateDir, ['task', 'submit', 'echo', '--json']);
  t.is(refused.code, 1);
  t.is((refused.json as { error: { code: string } }).error.code, 'HIVE_RECOVERY_SAFE_MODE');
  const report = await recoveryStatus(second);
  t.is(report.mode, 'safe');
  t.regex(report.safeMode?.hint ?? '', /move .*queue\.\* aside and restart/);
  t.true(report.stateFiles.some((f) => f.file === 'db/queue.json' && f.status === 'damaged'));
  t.regex(
    readFileSync(join(second.stateDir, 'db', 'queue.json'), 'utf8'),
    /^\{"format":1,"seq":$/,
    'the damaged file is left alone for its owner',
  );
  await stopCleanly(second);
});

test('repairOnStart off: safe mode until a restore, which loads the state without a restart', async (t) => {
  const config = { ...queueOnly, backup: { repairOnStart: false } };
  const first = await startDaemon(t, { config });
  const ids = [await submit(first), await submit(first)];
  const backup = await backupId(first);
  await stopCleanly(first);
  writeFileSync(join(first.stateDir, 'db', 'queue.json'), 'not json');

  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  const report = await recoveryStatus(second);
  t.is(report.mode, 'safe');
  t.regex(report.safeMode?.reason ?? '', /backup\.repairOnStart is off/);
  t.regex(report.safeMode?.hint ?? '', new RegExp(`hive backup restore ${backup} --yes`));
  const restored = await hive(second.stateDir, ['backup', 'restore', backup, '--yes']);
  t.is(restored.code, 0, restored.stderr);
  t.regex(restored.stdout, /leaves safe mode/);
  const after = await waitFor(
    async () => {
      const s = (await second.call('status')) as { daemon: { mode: string; pid: number } };
      return s.daemon.mode === 'normal' ? s : undefined;
    },
    { what: 'hived to leave safe mode' },
  );
  t.is(after.daemon.pid, pidOf(second), 'the same process');
  const states = await taskStates(second);
  t.deepEqual([...states.keys()].sort(), [...ids].sort());
  await submit(second);
});

test('an unreadable registry is restored from the newest backup that holds it', async (t) => {
  const config = { bots: { echo: echoBot({ instances: 1 }) } };
  const first = await startDaemon(t, { config });
  await first.call('bots.scale', { kind: 'echo', instances: 0 });
  await backupId(first, 'registry');
  await stopCleanly(first);
  writeFileSync(join(first.stateDir, 'db', 'registry.json'), '{"bots":');

  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  const report = await recoveryStatus(second);
  t.is(report.repairs[0]?.file, 'db/registry.json');
  t.regex(report.repairs[0]?.action ?? '', /restored from backup/);
  // The scale override came back: the config's one echo bot stays scaled to 0.
  t.deepEqual((await status(second)).bots, []);
});
