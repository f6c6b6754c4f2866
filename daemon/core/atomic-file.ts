import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Makes a completed rename durable: without an fsync of the folder a power
 * cut can forget the rename even though the file's bytes were synced.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` so that a crash or power cut leaves the old or
 * the new file, never a torn one: temp file, fsync, rename, fsync folder.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDirectory(dir);
}

/** File content: a string, bytes, or pieces written one after the other (no concatenation copy). */
export type FileData = string | Uint8Array | readonly (string | Uint8Array)[];

/**
 * Creates a new file (never replaces one) with `data`; fdatasyncs it unless
 * `sync` is false (scratch files). The caller syncs the folder.
 */
export async function writeNewFile(path: string, data: FileData, sync = true): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
    else {
      const pieces = data.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
      const total = pieces.reduce((n, p) => n + p.byteLength, 0);
      const { bytesWritten } = await handle.writev(pieces);
      // One pwritev writes it all on Linux for files below 2 GB; finish it anyway if not.
      if (bytesWritten < total) await handle.write(Buffer.concat(pieces).subarray(bytesWritten));
    }
    if (sync) await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Reads a file, or returns undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isNodeError(error) && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

export function ensureDirectory(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
}

export function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
