/**
 * Backup, restore and verify of a large state (issue 4): 100,000 tasks and
 * 1,000 bot records, in-process, with the daemon's real parts (queue,
 * registry document, supervisor, dispatcher, recovery part) on a temporary
 * state directory. No bot runs: the state is built as files and loaded the
 * way hived loads it.
 *
 * Run alone: node bench/recovery.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Spawner } from '../daemon/bots/bot.ts';
import { BotSupervisor, type RegistryDoc } from '../daemon/bots/supervisor.ts';
import { ConfigSchema } from '../daemon/config/schema.ts';
import { writeNewFile } from '../daemon/core/atomic-file.ts';
import { systemClock } from '../daemon/core/clock.ts';
import { BackupCatalog } from '../daemon/recovery/catalog.ts';
import { StateInstaller } from '../daemon/recovery/installer.ts';
import { noPause } from '../daemon/recovery/pause-points.ts';
import { RecoveryService } from '../daemon/recovery/recovery.ts';
import { StartupRecovery } from '../daemon/recovery/repair.ts';
import { LiveRestore, parseBackup, problemsOf } from '../daemon/recovery/restore.ts';
import { trialRestore } from '../daemon/recovery/verify.ts';
import { LeastLoadedScheduler } from '../daemon/scheduler/scheduler.ts';
import { replacementFiles } from '../daemon/store/event-store.ts';
import { JsonDocument } from '../daemon/store/json-document.ts';
import { Dispatcher } from '../daemon/tasks/dispatcher.ts';
import type { Task } from '../daemon/tasks/task.ts';
import { TaskQueue } from '../daemon/tasks/task-queue.ts';
import { removeTempDir, round, type Summary, summarize, tempDir } from './lib.ts';

export interface RecoveryBenchResult {
  tasks: number;
  bots: number;
  fullBackupBytes: number;
  /** hive backup create --kind full: capture, hash, write, fsync, index. */
  backupMs: Summary;
  /** The restore as `hive backup restore --yes` runs it, safety backup included. */
  restoreMs: Summary;
  /** The same without the safety backup and the checksum pass: parse, check, swap. */
  restoreSwapMs: Summary;
  /** Reading a backup's files and checking their SHA-256. */
  checksumMBps: Summary;
  /** hive backup verify: checksums plus the trial restore and invariants. */
  verifyMBps: Summary;
}

const silent = { error() {}, warn() {}, info() {}, debug() {}, event() {} };
const noBots: Spawner = {
  spawn() {
    throw new Error('no bot runs in this benchmark');
  },
};

/** A realistic mix: most tasks finished (with results), some queued, some leased. */
function makeTasks(count: number, bots: string[]): Task[] {
  const now = Date.now();
  const tasks: Task[] = [];
  for (let i = 0; i < count; i++) {
    const id = `t${(now - count + i).toString(36)}${i.toString(16).padStart(10, '0')}`;
    const base: Task = {
      id,
      type: i % 3 === 0 ? 'textstats' : 'echo',
      payload: { i, text: `payload ${i} `.repeat(3) },
      priority: i % 10,
      ...(i % 7 === 0 ? { key: `key-${i}` } : {}),
      state: 'queued',
      attempts: 0,
      maxAttempts: 3,
      timeoutMs: 30_000,
      createdAt: now - 60_000,
      updatedAt: now - 60_000,
      availableAt: now - 60_000,
      submittedBy: 'bench',
      history: [],
    };
    const bot = bots[i % bots.length] as string;
    const token = i + 1;
    const attempt = { bot, token, startedAt: now - 50_000 };
    const slot = i % 10;
    if (slot < 6) {
      Object.assign(base, {
        state: 'done',
        attempts: 1,
        result: { echo: { i }, by: bot },
        finishedAt: now - 40_000,
        history: [{ ...attempt, endedAt: now - 40_000, outcome: 'done' }],
      });
    } else if (slot === 6) {
      Object.assign(base, {
        state: 'running',
        attempts: 1,
        lease: { bot, token, expiresAt: now + 30_000 },
        history: [attempt],
      });
    } else if (slot === 7) {
      Object.assign(base, {
        state: 'dead',
        attempts: 3,
        error: { reason: 'timeout', message: `no result from ${bot} within 30000 ms` },
        finishedAt: now - 30_000,
        history: [{ ...attempt, endedAt: now - 45_000, outcome: 'timeout' }],
      });
    }
    tasks.push(base);
  }
  return tasks;
}

function makeRegistry(bots: string[]): RegistryDoc {
  const registry: RegistryDoc = {
    bots: {},
    scale: { echo: { instances: 600, configInstances: 2 } },
  };
  for (const [i, name] of bots.entries()) {
    registry.bots[name] = {
      kind: name.split('-')[0] as string,
      pid: 100_000 + i,
      startTicks: 1_000 + i,
      state: 'ready',
      restarts: i % 3,
      tasksDone: i * 7,
      startedAt: Date.now() - 3_600_000,
    };
  }
  return registry;
}

/** Writes the state files the way hived leaves them, then loads them with the real parts. */
export async function buildState(root: string, taskCount: number, botCount: number) {
  const db = join(root, 'db');
  mkdirSync(db, { recursive: true });
  const bots = Array.from({ length: botCount }, (_, i) =>
    i < botCount * 0.6 ? `echo-${i}` : `textstats-${i}`,
  );
  const tasks = makeTasks(taskCount, bots);
  const files = replacementFiles('queue', {
    base: JSON.stringify({ tasks }),
    baseSeq: taskCount + 10,
    entries: [],
    segment: 1,
  });
  for (const file of files) await writeNewFile(join(db, file.name), file.data, false);
  writeFileSync(join(db, 'registry.json'), JSON.stringify(makeRegistry(bots)));

  const config = ConfigSchema.parse({});
  const queue = new TaskQueue(db, { clock: systemClock, compactAfterBytes: 1 << 30 });
  await queue.open();
  const registry = new JsonDocument<RegistryDoc>(join(db, 'registry.json'), {
    bots: {},
    scale: {},
  });
  await registry.load();
  const supervisor = new BotSupervisor({
    clock: systemClock,
    log: silent,
    spawner: noBots,
    registry,
  });
  const dispatcher = new Dispatcher({
    queue,
    bots: supervisor,
    scheduler: new LeastLoadedScheduler(),
    clock: systemClock,
    log: silent,
    config: config.queue,
  });
  const catalog = new BackupCatalog(
    { dir: join(root, 'backups'), version: 'bench' },
    { clock: systemClock, log: silent, pause: noPause },
  );
  await catalog.open();
  const installer = new StateInstaller(db, { pause: noPause });
  const startup = new StartupRecovery(
    { dbDir: db, stateDir: root, repairOnStart: true },
    { catalog, installer, log: silent, clock: systemClock },
  );
  const live = { queue, registry, bots: supervisor, dispatcher };
  const recovery = new RecoveryService(
    { config: { ...config.backup, intervalMs: 0 } },
    {
      clock: systemClock,
      log: silent,
      catalog,
      installer,
      startup,
      start: { lastStart: 'clean', firstStart: true, detail: 'bench', previousRun: null },
      live,
      scratchDir: join(root, 'cache', 'verify'),
      onFatal: (reason) => {
        throw new Error(reason);
      },
    },
  );
  return { queue, catalog, installer, recovery, live };
}

const time = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

export async function benchRecovery(
  options: { tasks?: number; bots?: number; runs?: number; log?: (m: string) => void } = {},
): Promise<RecoveryBenchResult> {
  const taskCount = options.tasks ?? 100_000;
  const botCount = options.bots ?? 1_000;
  const runs = options.runs ?? 5;
  const log = options.log ?? (() => {});
  const root = tempDir('hive-bench-recovery-');
  try {
    log(`building a state of ${taskCount} tasks and ${botCount} bot records`);
    const { queue, catalog, installer, recovery, live } = await buildState(
      root,
      taskCount,
      botCount,
    );
    const backupMs: number[] = [];
    let id = '';
    for (let i = 0; i < runs; i++) {
      backupMs.push(
        await time(async () => {
          id = (await recovery.create({ kind: 'full', source: 'manual' })).id;
        }),
      );
    }
    const entry = catalog.get(id);
    const checksumMBps: number[] = [];
    const verifyMBps: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const loaded = await catalog.load(id);
      const t1 = performance.now();
      const problems = await trialRestore(loaded, join(root, 'cache', 'verify'));
      const t2 = performance.now();
      if (loaded.problems.length > 0 || problems.length > 0)
        throw new Error(`the benchmark backup does not verify: ${problems.join('; ')}`);
      checksumMBps.push(loaded.bytes / 1e3 / (t1 - t0));
      verifyMBps.push(loaded.bytes / 1e3 / (t2 - t0));
    }
    const restoreMs: number[] = [];
    const restoreSwapMs: number[] = [];
    const swap = new LiveRestore({ live, installer, now: () => Date.now() });
    for (let i = 0; i < runs; i++) {
      restoreMs.push(await time(() => recovery.restore(id)));
      const loaded = await catalog.load(id);
      restoreSwapMs.push(
        await time(async () => {
          const staged = swap.stage(loaded);
          const parsed = parseBackup(loaded);
          if (problemsOf(parsed).length > 0) throw new Error('invalid benchmark backup');
          await swap.run(parsed, staged, 'bench restore');
        }),
      );
    }
    if (queue.counts().running !== 0) throw new Error('a restore left leases behind');
    await queue.close({ compact: false });
    const r = (xs: number[]) => {
      const s = summarize(xs);
      return { ...s, median: round(s.median, 1), min: round(s.min, 1), max: round(s.max, 1) };
    };
    return {
      tasks: taskCount,
      bots: botCount,
      fullBackupBytes: entry.sizeBytes,
      backupMs: r(backupMs),
      restoreMs: r(restoreMs),
      restoreSwapMs: r(restoreSwapMs),
      checksumMBps: r(checksumMBps),
      verifyMBps: r(verifyMBps),
    };
  } finally {
    removeTempDir(root);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchRecovery({ log: (m) => process.stderr.write(`[bench] ${m}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
