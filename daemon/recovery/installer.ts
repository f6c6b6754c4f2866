import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
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
    const staging = this.begin();
    try {
      await Promise.all(files.map((file) => staging.write(file)));
    } catch (error) {
      await staging.discard();
      throw error;
    }
    await staging.commit(label, onCommitted);
  }

  /**
   * Starts an install whose files are staged over time: a restore writes
   * the large snapshot before it suspends the queue, the small files after.
   */
  begin(): Staging {
    const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const dir = join(this.#dir, `${STAGING}${id}`);
    ensureDirectory(dir);
    return new Staging(dir, (label, files, onCommitted) =>
      this.#commit(
        { format: 1, id, label, startedAt: new Date().toISOString(), files },
        onCommitted,
      ),
    );
  }

  async #commit(intent: Intent, onCommitted?: () => void): Promise<void> {
    const staging = join(this.#dir, `${STAGING}${intent.id}`);
    await fsyncDirectory(staging);
    await this.#pause('install:staged');
    await writeFileAtomic(join(this.#dir, INTENT), JSON.stringify(intent));
    onCommitted?.();
    await this.#pause('install:committed');
    await this.#moveIntoPlace(intent, () => this.#pause('install:partial'));
    await unlink(join(this.#dir, INTENT));
    await fsyncDirectory(this.#dir);
    await rm(staging, { recursive: true, force: true });
  }

  /** Renames each staged file that is still staged; idempotent, so a roll-forward may repeat it. */
  async #moveIntoPlace(intent: Intent, afterFirst?: () => Promise<void>): Promise<string[]> {
    const moved: string[] = [];
    for (const name of intent.files) {
      const staged = join(this.#dir, `${STAGING}${intent.id}`, name);
      if (!(await exists(staged))) continue;
      await rename(staged, join(this.#dir, name));
      moved.push(name);
      if (moved.length === 1) await afterFirst?.();
    }
    await fsyncDirectory(this.#dir);
    return moved;
  }
}

/** Files being staged for one install; nothing of them is visible until `commit`. */
export class Staging {
  readonly #dir: string;
  readonly #commit: (label: string, files: string[], onCommitted?: () => void) => Promise<void>;
  readonly #files: string[] = [];

  constructor(
    dir: string,
    commit: (label: string, files: string[], onCommitted?: () => void) => Promise<void>,
  ) {
    this.#dir = dir;
    this.#commit = commit;
  }

  /** Writes one file in full, durably. */
  async write(file: StoreFile): Promise<void> {
    this.#files.push(file.name);
    await writeNewFile(join(this.#dir, file.name), file.data);
  }

  /** Overwrites bytes of a staged file in place (a header filled in late), durably. */
  async patch(name: string, offset: number, data: string): Promise<void> {
    const handle = await open(join(this.#dir, name), 'r+');
    try {
      const bytes = Buffer.from(data);
      await handle.write(bytes, 0, bytes.length, offset);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** The commit point, then the move into place; `onCommitted` runs right after the commit point. */
  commit(label: string, onCommitted?: () => void): Promise<void> {
    return this.#commit(label, [...this.#files], onCommitted);
  }

  async discard(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
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
