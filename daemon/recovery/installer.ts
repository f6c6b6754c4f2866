import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ensureDirectory,
  fsyncDirectory,
  isNodeError,
  readFileIfExists,
  writeFileAtomic,
  writeNewFile,
} from '../core/atomic-file.ts';
import type { StoreFile } from '../store/event-store.ts';
import type { PausePoint } from './pause-points.ts';

const INTENT = 'install.intent.json';
const STAGING = '.install-';

const IntentSchema = z.strictObject({
  format: z.literal(1),
  id: z.string(),
  label: z.string(),
  startedAt: z.string(),
  files: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)),
});
type Intent = z.infer<typeof IntentSchema>;

export interface PendingInstall {
  label: string;
  startedAt: string;
  /** Files renamed into place by this roll-forward (the rest were already in place). */
  completed: string[];
}

/**
 * Replaces several state files as one unit. Each replacement is first
 * written in full to a staging folder beside the state files; then an
 * intent file naming them is written atomically: that rename is the commit
 * point. Only then are the staged files renamed over the live ones. A crash
 * before the intent leaves the old files (the staging folder is removed at
 * the next start); a crash after it is rolled forward at the next start,
 * before any state is loaded. Either way hived loads all old or all new
 * files, never a mix.
 */
export class StateInstaller {
  readonly #dir: string;
  readonly #pause: PausePoint;

  constructor(dbDir: string, deps: { pause: PausePoint }) {
    this.#dir = dbDir;
    this.#pause = deps.pause;
  }

  /**
   * Call at start, before loading any state: finishes an install that
   * committed, drops staging left by one that did not.
   */
  async completePending(): Promise<PendingInstall | undefined> {
    const text = await readFileIfExists(join(this.#dir, INTENT));
    let done: PendingInstall | undefined;
    if (text !== undefined) {
      // Written atomically, so it parses; a hand-edited one must not install garbage.
      const intent = IntentSchema.parse(JSON.parse(text));
      done = { label: intent.label, startedAt: intent.startedAt, completed: [] };
      done.completed = await this.#moveIntoPlace(intent);
      await unlink(join(this.#dir, INTENT));
      await fsyncDirectory(this.#dir);
    }
    for (const name of await readdir(this.#dir)) {
      if (name.startsWith(STAGING))
        await rm(join(this.#dir, name), { recursive: true, force: true });
    }
    return done;
  }

  /**
   * Installs `files` (names relative to the state folder) as one unit.
   * `onCommitted` runs right after the commit point: from then on the new
   * files are what the next start loads, even if this call fails later.
   */
  async install(label: string, files: StoreFile[], onCommitted?: () => void): Promise<void> {
    const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const staging = this.#staging(id);
    ensureDirectory(staging);
    try {
      await Promise.all(files.map((file) => writeNewFile(join(staging, file.name), file.data)));
      await fsyncDirectory(staging);
    } catch (error) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
    await this.#pause('install:staged');
    const intent: Intent = {
      format: 1,
      id,
      label,
      startedAt: new Date().toISOString(),
      files: files.map((f) => f.name),
    };
    await writeFileAtomic(join(this.#dir, INTENT), JSON.stringify(intent));
    onCommitted?.();
    await this.#pause('install:committed');
    await this.#moveIntoPlace(intent, () => this.#pause('install:partial'));
    await unlink(join(this.#dir, INTENT));
    await fsyncDirectory(this.#dir);
    await rm(staging, { recursive: true, force: true });
  }

  #staging(id: string): string {
    return join(this.#dir, `${STAGING}${id}`);
  }

  /** Renames each staged file that is still staged; idempotent, so a roll-forward may repeat it. */
  async #moveIntoPlace(intent: Intent, afterFirst?: () => Promise<void>): Promise<string[]> {
    const moved: string[] = [];
    for (const name of intent.files) {
      const staged = join(this.#staging(intent.id), name);
      if (!(await exists(staged))) continue;
      await rename(staged, join(this.#dir, name));
      moved.push(name);
      if (moved.length === 1) await afterFirst?.();
    }
    await fsyncDirectory(this.#dir);
    return moved;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNodeError(error) && error.code === 'ENOENT') return false;
    throw error;
  }
}
