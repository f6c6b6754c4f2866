/**
 * Backups and restores against a real hived through the real `hive` CLI:
 * damaged backups are refused by name, a restore keeps every acknowledged
 * task, restore points come back as a unit.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  echoBot,
  fixtureBot,
  startDaemon,
  status,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import {
  type BackupRow,
  backups,
  flipByte,
  hive,
  submit,
  taskStates,
} from '../helpers/recovery.ts';

interface VerifyJson {
  ok: boolean;
  results: { id: string; ok: boolean; problems: string[] }[];
}

test('a flipped byte: verify and restore refuse the backup and name the file', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot({ instances: 0 }) } } });
  const ids = [await submit(daemon), await submit(daemon)];
  const created = await hive(daemon.stateDir, ['backup', 'create', '--tag', 'good', '--json']);
  t.is(created.code, 0, created.stderr);
  const id = (created.json as BackupRow).id;
  const ok = await hive(daemon.stateDir, ['backup', 'verify', id, '--json']);
  t.is(ok.code, 0);
  t.true((ok.json as VerifyJson).ok);

  flipByte(join(daemon.stateDir, 'backups', id, 'queue.json'));
  const verify = await hive(daemon.stateDir, ['backup', 'verify', id, '--json']);
  t.is(verify.code, 1, 'verify exits 1');
  const result = (verify.json as VerifyJson).results[0];
  t.false(result?.ok);
  t.regex(result?.problems.join() ?? '', /^queue\.json: SHA-256 mismatch/);
  const text = await hive(daemon.stateDir, ['backup', 'verify', '--all']);
  t.is(text.code, 1);
  t.regex(text.stdout, new RegExp(`${id}: FAILED\\n  - queue\\.json: SHA-256 mismatch`));

  await submit(daemon);
  const restore = await hive(daemon.stateDir, ['backup', 'restore', id, '--yes']);
  t.is(restore.code, 1, 'restore exits 1');
  t.regex(restore.stderr, /queue\.json: SHA-256 mismatch.*\[HIVE_BACKUP_CORRUPT\]/);
  const plan = await hive(daemon.stateDir, ['backup', 'restore', id, '--json']);
  t.is((plan.json as { error: { code: string } }).error.code, 'HIVE_BACKUP_CORRUPT');
  // Refused before anything happened: no safety backup, the live state untouched.
  t.deepEqual(
    (await backups(daemon)).map((b) => b.source),
    ['manual'],
  );
  t.is((await taskStates(daemon)).size, ids.length + 1);
  const shown = await hive(daemon.stateDir, ['backup', 'show', id]);
  t.regex(shown.stdout, /verified: +FAILED: queue\.json: SHA-256 mismatch/);

  // index.json lost while hived runs: the next look rebuilds it from the manifests.
  const index = join(daemon.stateDir, 'backups', 'index.json');
  rmSync(index);
  const ls = await hive(daemon.stateDir, ['backup', 'ls', '--json']);
  t.deepEqual(
    (ls.json as { backups: BackupRow[] }).backups.map((b) => b.id),
    [id],
  );
  t.true(existsSync(index));
});

test('restore while tasks run: acknowledged tasks the backup lacks are kept and reported, every task finishes', async (t) => {
  const gate = join(tempDir(t), 'gate');
  const daemon = await startDaemon(t, {
    config: { bots: { slow: fixtureBot('slow.ts', { instances: 2, concurrency: 3 }) } },
  });
  await waitForReadyBots(daemon, 2);
  const gated = (n: string) => submit(daemon, { type: 'slow', payload: { gate, n } });
  const before = await Promise.all(['b1', 'b2', 'b3', 'b4'].map(gated));
  await waitFor(async () => (await status(daemon)).queue.running === 4, { what: '4 running' });
  const { id } = (await daemon.call('backup.create', { tag: 'mid-run' })) as { id: string };

  // After the backup: one task that finishes, three that are held running or queued.
  const fast = await submit(daemon, { type: 'slow', payload: { n: 'fast' } });
  const fastDone = await waitFor(async () => {
    const task = (await daemon.call('task.get', { id: fast })) as {
      state: string;
      result: unknown;
    };
    return task.state === 'done' ? task : undefined;
  });
  const after = [
    await gated('a1'),
    await gated('a2'),
    await submit(daemon, { type: 'slow', key: 'k-after', payload: { gate } }),
  ];
  await waitFor(async () => (await status(daemon)).queue.running === 6, { what: '6 running' });

  const dry = await hive(daemon.stateDir, ['backup', 'restore', id]);
  t.is(dry.code, 1, 'without --yes: explain, change nothing, exit 1');
  t.regex(dry.stdout, /4 tasks submitted since the backup are kept/);
  t.regex(dry.stdout, /Run again with --yes/);
  t.is((await backups(daemon)).length, 1);

  const restored = await hive(daemon.stateDir, ['backup', 'restore', id, '--yes', '--json']);
  t.is(restored.code, 0, restored.stderr);
  const report = restored.json as {
    safetyBackupId: string;
    outcome: {
      released: number;
      queue: { kept: { count: number; sample: { id: string; state: string }[] }; requeued: number };
    };
  };
  t.is(report.outcome.released, 6, 'the live leases were released');
  t.is(report.outcome.queue.requeued, 4, "the backup's leases were requeued");
  t.is(report.outcome.queue.kept.count, 4);
  t.deepEqual(
    report.outcome.queue.kept.sample.map((k) => k.id).sort(),
    [fast, ...after].sort(),
    'exactly the tasks acknowledged since the backup are reported as kept',
  );
  const safety = (await backups(daemon)).find((b) => b.id === report.safetyBackupId);
  t.is(safety?.source, 'pre-restore');

  const states = await taskStates(daemon);
  for (const taskId of [...before, fast, ...after])
    t.true(states.has(taskId), `${taskId} is still there`);
  t.is(states.get(fast), 'done', 'a task finished since the backup stays finished');
  const fastAfter = (await daemon.call('task.get', { id: fast })) as { result: unknown };
  t.deepEqual(fastAfter.result, fastDone.result, 'with the same result');
  const keyed = (await daemon.call('task.submit', { type: 'slow', key: 'k-after' })) as {
    id: string;
  };
  t.is(keyed.id, after[2] as string, 'its idempotency key still names it');

  writeFileSync(gate, '');
  const final = await waitFor(
    async () => {
      const s = await status(daemon);
      return s.queue.done === 8 ? s : undefined;
    },
    { timeoutMs: 20_000, what: 'all 8 tasks done' },
  );
  t.is(final.queue.failed + final.queue.dead + final.queue.cancelled, 0);
  const verify = await hive(daemon.stateDir, ['backup', 'verify', '--all', '--json']);
  t.true((verify.json as VerifyJson).ok, verify.stdout);
});

test('a restore point is created with a description, listed, shown and restored by name', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot({ instances: 0 }) } } });
  const first = [await submit(daemon), await submit(daemon)];
  const made = await hive(daemon.stateDir, [
    'restore-point',
    'create',
    '--description',
    'before the big import',
    '--name',
    'pre-import',
    '--json',
  ]);
  t.is(made.code, 0, made.stderr);
  const rp = made.json as BackupRow;
  t.deepEqual(rp.restorePoint, { name: 'pre-import', description: 'before the big import' });
  t.is(rp.kind, 'full');
  const noDescription = await hive(daemon.stateDir, ['restore-point', 'create']);
  t.is(noDescription.code, 1);

  await daemon.call('task.cancel', { id: first[0] });
  await daemon.call('backup.create', { kind: 'queue' });
  const ls = await hive(daemon.stateDir, ['restore-point', 'ls', '--json']);
  t.deepEqual(
    (ls.json as { restorePoints: BackupRow[] }).restorePoints.map((r) => r.id),
    [rp.id],
    'plain backups are not restore points',
  );
  const shown = await hive(daemon.stateDir, ['restore-point', 'show', 'pre-import']);
  t.regex(shown.stdout, /restore point: +pre-import: before the big import/);
  t.regex(shown.stdout, /queue\.json +queue +\S+ +\S+ +[0-9a-f]{64}/);

  const restored = await hive(daemon.stateDir, ['backup', 'restore', 'pre-import', '--yes']);
  t.is(restored.code, 0, restored.stderr);
  const states = await taskStates(daemon);
  t.is(
    states.get(first[0] as string),
    'queued',
    'the cancel is undone: the point is restored as a unit',
  );
  t.is(states.get(first[1] as string), 'queued');
  // Nothing changed since that restore's safety backup: a second restore reuses it.
  const count = (await backups(daemon)).length;
  const again = await hive(daemon.stateDir, ['backup', 'restore', rp.id, '--yes', '--json']);
  t.true((again.json as { safetyBackupReused: boolean }).safetyBackupReused);
  t.is((await backups(daemon)).length, count);
  const assignmentsOnly = (await daemon.call('backup.create', { kind: 'assignments' })) as {
    id: string;
  };
  const refused = await hive(daemon.stateDir, ['backup', 'restore', assignmentsOnly.id, '--yes']);
  t.regex(refused.stderr, /HIVE_BACKUP_NOT_RESTORABLE/);
});
