import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EMPTY_REGISTRY, type RegistryDoc } from '../bots/supervisor.ts';
import { ensureDirectory, writeNewFile } from '../core/atomic-file.ts';
import { EventStore, replacementFiles } from '../store/event-store.ts';
import { JsonDocument } from '../store/json-document.ts';
import { type QueueState, type TaskRecord, taskReducer } from '../tasks/task.ts';
import type { AssignmentsDoc } from './capture.ts';
import type { LoadedBackup } from './catalog.ts';
import { checkInvariants } from './invariants.ts';

/**
 * Restores a backup into a scratch folder with the same files a restore
 * installs, loads them with the daemon's own loaders, and checks the
 * invariants on what loaded: a backup is known good when it is taken, not
 * when it is needed. Returns the problems (empty: good).
 */
export async function trialRestore(loaded: LoadedBackup, scratchDir: string): Promise<string[]> {
  ensureDirectory(scratchDir);
  const dir = await mkdtemp(join(scratchDir, `verify-${loaded.entry.id}-`));
  try {
    const { entry } = loaded;
    const queue = loaded.files.get('queue');
    const registry = loaded.files.get('registry');
    const assignments = loaded.files.get('assignments');
    // Scratch files need no fsync: they are read back at once and deleted.
    if (queue) {
      const files = replacementFiles('queue', {
        base: queue,
        baseSeq: entry.revision.queueSeq,
        entries: [],
        segment: 1,
      });
      for (const file of files) await writeNewFile(join(dir, file.name), file.data, false);
    }
    if (registry) await writeNewFile(join(dir, 'registry.json'), registry, false);
    let taskEntries: number | undefined;
    const store = new EventStore<QueueState, TaskRecord>(
      dir,
      'queue',
      {
        ...taskReducer,
        fromSnapshot(data) {
          // Counted before the Map collapses a duplicated id.
          const tasks = (data as { tasks?: unknown } | null)?.tasks;
          taskEntries = Array.isArray(tasks) ? tasks.length : 0;
          return taskReducer.fromSnapshot(data);
        },
      },
      { compactAfterBytes: Number.MAX_SAFE_INTEGER },
    );
    const problems: string[] = [];
    try {
      if (queue) await store.open();
      const doc = new JsonDocument<RegistryDoc>(join(dir, 'registry.json'), EMPTY_REGISTRY);
      if (registry) await doc.load();
      problems.push(
        ...checkInvariants({
          queueSeq: entry.revision.queueSeq,
          counts: entry.counts,
          ...(queue
            ? { tasks: store.state.tasks, keys: store.state.keys, taskEntries: taskEntries ?? 0 }
            : {}),
          ...(registry ? { registry: doc.data } : {}),
          ...(assignments
            ? { assignments: JSON.parse(assignments.toString('utf8')) as AssignmentsDoc }
            : {}),
        }),
      );
    } catch (error) {
      problems.push(`the restored files do not load: ${(error as Error).message}`);
    } finally {
      if (queue) await store.close({ compact: false }).catch(() => {});
    }
    return problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
