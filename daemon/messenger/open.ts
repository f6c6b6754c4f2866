import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { HiveError } from '../../protocol/errors.ts';
import { ensureDirectory, fsyncDirectory } from '../core/atomic-file.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { StateFileStatus } from '../recovery/repair.ts';
import { MessageStore } from './store.ts';

/**
 * Opens the message store. Messages are not in backups (see README,
 * "Bot-to-bot messaging"), so damage is handled here: corrupt journal lines
 * are skipped (and said so), and a snapshot that cannot be read is moved to
 * db/damaged/ with its journal, and the store starts empty; hived never
 * refuses to start over its messages.
 */
export async function openMessageStore(
  dbDir: string,
  deps: { clock: Clock; log: Logger; compactAfterBytes: number },
): Promise<{ store: MessageStore; status: StateFileStatus }> {
  const create = () =>
    new MessageStore(dbDir, { clock: deps.clock, compactAfterBytes: deps.compactAfterBytes });
  let store = create();
  try {
    const report = await store.open();
    const counts = store.counts();
    const detail = `${counts.queued} queued, ${counts.delivered} out with bots before the stop, ${counts.acked + counts.expired + counts.dead} finished`;
    if (report.corruptLines.length === 0)
      return { store, status: { file: 'db/messages.json', status: 'loaded', detail } };
    const lines = report.corruptLines.map((c) => `segment ${c.segment} line ${c.line}`).join(', ');
    deps.log.error(
      `message journal: ${report.corruptLines.length} corrupt records skipped (${lines})`,
    );
    return {
      store,
      status: {
        file: 'db/messages.json',
        status: 'damaged',
        detail: `${detail}; corrupt records skipped: ${lines}`,
      },
    };
  } catch (error) {
    if (!(error instanceof HiveError && error.code === 'HIVE_STORE_CORRUPT')) throw error;
    const moved = await setAside(dbDir, deps.clock.now());
    deps.log.error(
      `message store unreadable (${error.message}); moved to ${moved}, starting empty`,
    );
    store = create();
    await store.open();
    return {
      store,
      status: {
        file: 'db/messages.json',
        status: 'reset',
        detail: `unreadable; moved to ${moved}`,
      },
    };
  }
}

async function setAside(dbDir: string, now: number): Promise<string> {
  const stamp = new Date(now).toISOString().replace(/[-:.]/g, '');
  const target = join(dbDir, 'damaged', `messages-${stamp}`);
  ensureDirectory(target);
  for (const name of await readdir(dbDir)) {
    if (name === 'messages.json' || (name.startsWith('messages.') && name.endsWith('.wal')))
      await rename(join(dbDir, name), join(target, name));
  }
  await fsyncDirectory(dbDir);
  return target;
}
