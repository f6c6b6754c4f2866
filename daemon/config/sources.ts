import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ConfigSourceFile } from '../../protocol/config.ts';
import { HiveError } from '../../protocol/errors.ts';
import { isNodeError } from '../core/atomic-file.ts';
import {
  type ConfigLayer,
  EMBEDDED,
  embeddedLayer,
  type Origin,
  parseLayer,
  resolveLayers,
} from './load.ts';
import type { Config } from './schema.ts';

/** Where one daemon's config lives: the main file and the drop-ins beside it. */
export interface ConfigLocation {
  mainFile: string;
  /** `conf.d/` next to the main file. */
  confDir: string;
  /** What relative paths resolve against when there is no main file (the embedded default). */
  projectRoot: string;
}

export function configLocation(mainFile: string, projectRoot: string): ConfigLocation {
  const file = resolve(mainFile);
  return { mainFile: file, confDir: join(dirname(file), 'conf.d'), projectRoot };
}

/** Drop-ins are YAML or JSON files; dotfiles are editors' temp and swap files. */
export const DROP_IN_NAME = /^[^.].*\.(ya?ml|json)$/;

export type SourceFile = ConfigSourceFile;

/** A loaded and validated config, frozen: parts get it and cannot change it. */
export interface ConfigSnapshot {
  readonly config: Config;
  readonly origins: ReadonlyMap<string, Origin>;
  readonly files: readonly SourceFile[];
  /** `file` when the main file exists, `embedded` when the built-in default stands in for it. */
  readonly base: 'file' | 'embedded';
  /** Folder that relative paths in the config resolve against. */
  readonly baseDir: string;
  /** SHA-256 over every source file (names and contents). */
  readonly checksum: string;
  /** The `SourceTexts` fingerprint of the read it came from. */
  readonly fingerprint: string;
}

export interface ReadOptions {
  /** A missing main file is an error (given with --config, or the running config came from it). */
  mainRequired: boolean;
}

/** The raw texts of one read of the sources, before any parsing. */
export interface SourceTexts {
  entries: { path: string; role: SourceFile['role']; text?: string; error?: HiveError }[];
  /** Changes whenever any source's content (or readability) changes. */
  fingerprint: string;
}

/**
 * Reads the main file (or the embedded default) and the drop-ins in name
 * order, and validates the merge. Throws HIVE_CONFIG_UNREADABLE or
 * HIVE_CONFIG_INVALID with `details.problems`; nothing is half-loaded.
 */
export async function readSnapshot(
  location: ConfigLocation,
  options: ReadOptions,
): Promise<ConfigSnapshot> {
  return buildSnapshot(location, await readSources(location, options));
}

/** Reads every source as text; a source that cannot be read is recorded, not thrown. */
export async function readSources(
  location: ConfigLocation,
  options: ReadOptions,
): Promise<SourceTexts> {
  const entries: SourceTexts['entries'] = [];
  const main = await readSource(location.mainFile, !options.mainRequired);
  if (main !== undefined) entries.push({ path: location.mainFile, role: 'main', ...main });
  let names: string[] = [];
  try {
    names = await dropInNames(location.confDir);
  } catch (error) {
    entries.push({ path: location.confDir, role: 'drop-in', error: error as HiveError });
  }
  for (const name of names) {
    const path = join(location.confDir, name);
    // Deleted between the listing and the read: it is simply gone.
    const read = await readSource(path, true);
    if (read !== undefined) entries.push({ path, role: 'drop-in', ...read });
  }
  const hash = createHash('sha256');
  for (const e of entries)
    hash.update(`${e.role}\0${e.path}\0${e.error ? `error ${e.error.message}` : e.text}\n`);
  return { entries, fingerprint: hash.digest('hex') };
}

/** Parses and validates what `readSources` read. */
export function buildSnapshot(location: ConfigLocation, sources: SourceTexts): ConfigSnapshot {
  const failed = sources.entries.find((e) => e.error);
  if (failed?.error) throw failed.error;
  const files: SourceFile[] = [];
  const layers: ConfigLayer[] = [];
  const hasMain = sources.entries[0]?.role === 'main';
  if (!hasMain) layers.push(embeddedLayer());
  for (const { path, role, text = '' } of sources.entries) {
    layers.push(parseLayer(text, path, role));
    files.push(describeFile(path, role, text));
  }
  const { config, origins } = resolveLayers(layers);
  const base = hasMain ? 'file' : 'embedded';
  return {
    config: deepFreeze(config),
    origins,
    files,
    base,
    baseDir: base === 'file' ? dirname(location.mainFile) : location.projectRoot,
    checksum: checksumOf(base, files),
    fingerprint: sources.fingerprint,
  };
}

/** The text, or the error that stopped the read; undefined when missing is fine. */
async function readSource(
  path: string,
  missingIsFine: boolean,
): Promise<{ text: string } | { error: HiveError } | undefined> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    if (missingIsFine && isNodeError(error) && error.code === 'ENOENT') return undefined;
    const reason =
      isNodeError(error) && error.code === 'ENOENT'
        ? 'the file is missing (deleted or being replaced?); the running config stays until it is back'
        : isNodeError(error) && error.code === 'EISDIR'
          ? 'it is a folder, not a file'
          : (error as Error).message;
    return {
      error: new HiveError('HIVE_CONFIG_UNREADABLE', `${path}: ${reason}`, {
        file: path,
        problems: [{ file: path, path: '', message: reason }],
      }),
    };
  }
}

async function dropInNames(confDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(confDir);
  } catch (error) {
    if (isNodeError(error) && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) return [];
    throw new HiveError('HIVE_CONFIG_UNREADABLE', `${confDir}: ${(error as Error).message}`, {
      file: confDir,
      problems: [{ file: confDir, path: '', message: (error as Error).message }],
    });
  }
  // Code-point order, not locale order: the same on every machine.
  return names.filter((n) => DROP_IN_NAME.test(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** True for a path the loader reads: the main file or a drop-in (by name). */
export function isSourcePath(location: ConfigLocation, path: string): boolean {
  if (path === location.mainFile) return true;
  return dirname(path) === location.confDir && DROP_IN_NAME.test(basename(path));
}

function describeFile(path: string, role: SourceFile['role'], text: string): SourceFile {
  return {
    path,
    role,
    sha256: createHash('sha256').update(text).digest('hex'),
    bytes: Buffer.byteLength(text),
  };
}

function checksumOf(base: string, files: readonly SourceFile[]): string {
  const hash = createHash('sha256').update(base === 'embedded' ? `${EMBEDDED}\n` : '');
  for (const file of files) hash.update(`${file.role}\0${file.path}\0${file.sha256}\n`);
  return hash.digest('hex');
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
