import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { HiveError } from '../../protocol/errors.ts';
import {
  ensureDirectory,
  fsyncDirectory,
  isNodeError,
  readFileIfExists,
  writeFileAtomic,
  writeNewFile,
} from '../core/atomic-file.ts';
import type { Clock } from '../core/clock.ts';
import { compareText } from '../core/values.ts';
import type { Logger } from '../logs/log-hub.ts';
import { type CapturedState, sha256Async } from './capture.ts';
import {
  type BackupKind,
  type BackupSource,
  backupId,
  type CheckResult,
  type IndexEntry,
  type Manifest,
  ManifestSchema,
  type StatePart,
} from './manifest.ts';
import type { PausePoint } from './pause-points.ts';

const IndexSchema = z.strictObject({
  format: z.literal(1),
  updatedAt: z.string(),
  backups: z.array(
    ManifestSchema.extend({
      check: z
        .strictObject({ at: z.string(), ok: z.boolean(), problems: z.array(z.string()) })
        .optional(),
    }),
  ),
});

export interface FileProblem {
  file: string;
  problem: string;
}

/** A backup read into memory with its checksums checked. */
export interface LoadedBackup {
  entry: IndexEntry;
  files: Map<StatePart, Buffer>;
  /** Files that are missing or whose bytes do not match; empty when the backup is intact. */
  problems: FileProblem[];
  bytes: number;
}

export interface CatalogOpenReport {
  /** Why index.json was rebuilt from the manifests, if it was. */
  rebuilt?: string;
  /** Backups a crash left half-written (never indexed), now removed. */
  partialRemoved: string[];
  /** Backup folders whose manifest cannot be read: left in place, not listed. */
  unreadable: string[];
}

export interface NewBackup {
  kind: BackupKind;
  source: BackupSource;
  tag?: string;
  restorePoint?: { name: string; description: string };
}

const INDEX = 'index.json';
const MANIFEST = 'manifest.json';
const PARTIAL = '.partial-';
/** Backup folders are named by their id; anything else in the folder is not ours. */
const BACKUP_FOLDER = /^[0-9]{8}T[0-9]{9}Z-[a-z]+-[0-9a-f]{6}$/;

/**
 * The backups folder: one folder per backup (its files and a manifest with
 * a SHA-256 of each) and index.json, a cache of every manifest that is
 * rewritten atomically and rebuilt from the folders when it is lost,
 * corrupt or out of step. A backup is written into a hidden folder and
 * renamed into place only once complete, so a crash leaves no half backup.
 */
export class BackupCatalog {
  readonly dir: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #pause: PausePoint;
  readonly #version: string;
  #entries: IndexEntry[] = [];
  #unreadable: string[] = [];

  constructor(
    options: { dir: string; version: string },
    deps: { clock: Clock; log: Logger; pause: PausePoint },
  ) {
    this.dir = options.dir;
    this.#version = options.version;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#pause = deps.pause;
  }

  async open(): Promise<CatalogOpenReport> {
    ensureDirectory(this.dir);
    const report: CatalogOpenReport = { partialRemoved: [], unreadable: [] };
    const folders: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(PARTIAL)) {
        await rm(join(this.dir, name), { recursive: true, force: true });
        report.partialRemoved.push(name.slice(PARTIAL.length));
      } else if (BACKUP_FOLDER.test(name)) {
        if ((await stat(join(this.dir, name))).isDirectory()) folders.push(name);
      }
    }
    const index = await this.#readIndex();
    const indexed = new Set(index.entries.map((e) => e.id));
    const stale =
      index.problem ??
      (folders.length !== indexed.size || folders.some((f) => !indexed.has(f))
        ? 'index.json does not list the same backups as the folder'
        : undefined);
    if (stale) {
      report.rebuilt = stale;
      const byId = new Map(index.entries.map((e) => [e.id, e]));
      this.#entries = [];
      for (const folder of folders) {
        const entry = byId.get(folder) ?? (await this.#readManifest(folder));
        if (entry) this.#entries.push(entry);
        else report.unreadable.push(folder);
      }
      this.#sort();
      await this.#writeIndex();
    } else {
      this.#entries = index.entries;
      this.#sort();
    }
    this.#unreadable = report.unreadable;
    return report;
  }

  /**
   * Re-reads the folder when index.json is gone or the backup folders
   * changed behind hived's back (say, a backup copied in from another disk
   * to get out of safe mode). Cheap: one readdir and one stat.
   */
  async ensureIndex(): Promise<boolean> {
    const names = (await readdir(this.dir)).filter((n) => BACKUP_FOLDER.test(n));
    const known = new Set(this.#entries.map((e) => e.id));
    const moved =
      names.length !== known.size + this.#unreadable.length ||
      names.some((n) => !known.has(n) && !this.#unreadable.includes(n));
    const indexGone = (await readFileIfExists(join(this.dir, INDEX))) === undefined;
    if (!moved && !indexGone) return false;
    this.#log.warn(
      `${indexGone ? 'index.json is gone' : 'the backup folders changed'}; re-reading ${this.dir}`,
    );
    await this.open();
    return true;
  }

  /** Folders whose manifest could not be read at the last open. */
  get unreadable(): readonly string[] {
    return this.#unreadable;
  }

  /** Every backup, oldest first. */
  entries(): readonly IndexEntry[] {
    return this.#entries;
  }

  /** A backup by id, or a restore point by id or name. */
  get(idOrName: string): IndexEntry {
    const entry =
      this.#entries.find((e) => e.id === idOrName) ??
      this.#entries.find((e) => e.restorePoint?.name === idOrName);
    if (!entry) {
      throw new HiveError(
        'HIVE_BACKUP_NOT_FOUND',
        `no backup or restore point ${JSON.stringify(idOrName)}; see hive backup ls`,
      );
    }
    return entry;
  }

  /** Writes a captured state as a new backup; resolves once it is durable and indexed. */
  async write(captured: CapturedState, backup: NewBackup): Promise<IndexEntry> {
    const createdAtMs = this.#clock.now();
    const id = backupId(createdAtMs, backup.restorePoint ? 'rp' : backup.kind);
    const partial = join(this.dir, `${PARTIAL}${id}`);
    // Hashed off the main thread while the files are written: a 50 MB backup
    // would otherwise block the event loop for ~100 ms more.
    ensureDirectory(partial);
    const written = captured.files.map(async (f) => {
      const [sha] = await Promise.all([
        sha256Async(f.data),
        writeNewFile(join(partial, f.name), f.data),
      ]);
      return sha;
    });
    const manifest: Manifest = {
      format: 1,
      id,
      kind: backup.kind,
      createdAt: new Date(createdAtMs).toISOString(),
      createdAtMs,
      source: backup.source,
      ...(backup.tag !== undefined ? { tag: backup.tag } : {}),
      ...(backup.restorePoint ? { restorePoint: backup.restorePoint } : {}),
      revision: captured.revision,
      counts: captured.counts,
      sizeBytes: captured.files.reduce((n, f) => n + f.data.length, 0),
      files: [],
      hived: { version: this.#version, pid: process.pid, host: hostname() },
    };
    try {
      const hashes = await Promise.all(written);
      manifest.files = captured.files.map((f, i) => ({
        name: f.name,
        part: f.part,
        bytes: f.data.length,
        sha256: hashes[i] as string,
      }));
      await writeNewFile(join(partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
      await fsyncDirectory(partial);
      await this.#pause('backup:files-written');
      await rename(partial, join(this.dir, id));
      await fsyncDirectory(this.dir);
    } catch (error) {
      await rm(partial, { recursive: true, force: true }).catch(() => {});
      throw new HiveError(
        'HIVE_BACKUP_WRITE_FAILED',
        `backup ${id} could not be written in ${this.dir}: ${(error as Error).message}`,
        { code: isNodeError(error) ? error.code : undefined },
      );
    }
    this.#entries.push(manifest);
    this.#sort();
    await this.#writeIndex();
    return manifest;
  }

  /**
   * Reads a backup's files and checks each against its manifest. Problems
   * are returned, not thrown, so verify can report every bad file.
   */
  async load(
    idOrName: string,
    progress?: (message: string) => void,
    parts?: readonly StatePart[],
  ): Promise<LoadedBackup> {
    const entry = this.get(idOrName);
    const loaded: LoadedBackup = { entry, files: new Map(), problems: [], bytes: 0 };
    for (const file of entry.files) {
      if (parts && !parts.includes(file.part)) continue;
      progress?.(`checking ${entry.id}/${file.name} (${file.bytes} bytes)`);
      const path = join(this.dir, entry.id, file.name);
      let data: Buffer;
      try {
        data = await readWhole(path);
      } catch (error) {
        loaded.problems.push({ file: file.name, problem: `cannot be read: ${codeOf(error)}` });
        continue;
      }
      loaded.bytes += data.length;
      const actual = await sha256Async(data);
      if (data.length !== file.bytes || actual !== file.sha256) {
        loaded.problems.push({
          file: file.name,
          problem: `SHA-256 mismatch: manifest says ${file.sha256.slice(0, 16)}… (${file.bytes} bytes), file is ${actual.slice(0, 16)}… (${data.length} bytes)`,
        });
        continue;
      }
      loaded.files.set(file.part, data);
    }
    return loaded;
  }

  /** Remembers the outcome of a verification in the index. */
  async recordCheck(id: string, check: CheckResult): Promise<void> {
    const entry = this.#entries.find((e) => e.id === id);
    if (!entry) return;
    entry.check = check;
    await this.#writeIndex();
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const gone = new Set(ids);
    // Out of the index first: a crash in between leaves folders the next open re-indexes.
    this.#entries = this.#entries.filter((e) => !gone.has(e.id));
    await this.#writeIndex();
    for (const id of ids) await rm(join(this.dir, id), { recursive: true, force: true });
    await fsyncDirectory(this.dir);
  }

  #sort(): void {
    this.#entries.sort((a, b) => a.createdAtMs - b.createdAtMs || compareText(a.id, b.id));
  }

  async #readIndex(): Promise<{ entries: IndexEntry[]; problem?: string }> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(join(this.dir, INDEX));
    } catch (error) {
      return { entries: [], problem: `index.json cannot be read: ${codeOf(error)}` };
    }
    if (text === undefined) return { entries: [], problem: 'index.json is missing' };
    try {
      const parsed = IndexSchema.safeParse(JSON.parse(text));
      if (parsed.success) return { entries: parsed.data.backups };
      return { entries: [], problem: 'index.json does not have the expected shape' };
    } catch {
      return { entries: [], problem: 'index.json is not valid JSON' };
    }
  }

  async #readManifest(folder: string): Promise<IndexEntry | undefined> {
    try {
      const text = await readFile(join(this.dir, folder, MANIFEST), 'utf8');
      const parsed = ManifestSchema.safeParse(JSON.parse(text));
      return parsed.success && parsed.data.id === folder ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async #writeIndex(): Promise<void> {
    const index = {
      format: 1,
      updatedAt: new Date(this.#clock.now()).toISOString(),
      backups: this.#entries,
    };
    await writeFileAtomic(join(this.dir, INDEX), `${JSON.stringify(index, null, 1)}\n`);
  }
}

export function describeProblems(loaded: LoadedBackup): string {
  return loaded.problems.map((p) => `${p.file}: ${p.problem}`).join('; ') || 'not valid JSON';
}

/** The error that refuses a backup whose files are missing or do not match; it names them. */
export function corrupt(loaded: LoadedBackup): HiveError {
  return new HiveError(
    'HIVE_BACKUP_CORRUPT',
    `backup ${loaded.entry.id} is damaged: ${describeProblems(loaded)}`,
    { files: loaded.problems },
  );
}

/** A whole file in one read call (fs.readFile reads 512 KB at a time: slower for 50 MB). */
async function readWhole(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const data = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(data, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === size ? data : data.subarray(0, at);
  } finally {
    await handle.close();
  }
}

function codeOf(error: unknown): string {
  return isNodeError(error) ? (error.code ?? error.message) : String(error);
}
