import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HiveError, type WireError } from '../../protocol/errors.ts';
import { type ConfigProblem, failureOf, formatProblem } from './load.ts';
import {
  type ConfigLocation,
  type ConfigSnapshot,
  configLocation,
  DROP_IN_NAME,
  readSnapshot,
  type SourceFile,
} from './sources.ts';

/**
 * `hived --check-config [FILE]`: validates config files without a daemon
 * (for CI and before a deploy), exactly as a load would: the same reader,
 * the same schema, the same extra checks (bot commands exist).
 */

export type CheckResult =
  | {
      ok: true;
      files: readonly SourceFile[];
      base: 'file' | 'embedded';
      checksum: string;
      botKinds: string[];
    }
  | { ok: false; error: WireError & { problems: ConfigProblem[] } };

/**
 * Which config a check reads. FILE in a `conf.d/` folder is checked as a
 * drop-in, together with the main file beside that folder and the other
 * drop-ins; any other FILE is checked as a main file with the drop-ins next
 * to it. Without FILE: the daemon's own config.
 */
export function checkLocation(
  file: string | undefined,
  daemon: { mainFile: string; explicit: boolean; projectRoot: string },
): { location: ConfigLocation; mainRequired: boolean; dropIn?: string } {
  const own = configLocation(daemon.mainFile, daemon.projectRoot);
  if (file === undefined) return { location: own, mainRequired: daemon.explicit };
  const path = resolve(file);
  if (basename(dirname(path)) !== 'conf.d')
    return { location: configLocation(path, daemon.projectRoot), mainRequired: true };
  if (own.confDir === dirname(path))
    return { location: own, mainRequired: daemon.explicit, dropIn: path };
  const main = join(dirname(dirname(path)), 'hive.yaml');
  return {
    location: configLocation(main, daemon.projectRoot),
    mainRequired: false,
    dropIn: path,
  };
}

export async function checkConfig(
  target: ReturnType<typeof checkLocation>,
  extraCheck: (snapshot: ConfigSnapshot) => void,
): Promise<CheckResult> {
  try {
    if (target.dropIn !== undefined) assertDropIn(target.dropIn);
    const snapshot = await readSnapshot(target.location, { mainRequired: target.mainRequired });
    extraCheck(snapshot);
    return {
      ok: true,
      files: snapshot.files,
      base: snapshot.base,
      checksum: snapshot.checksum,
      botKinds: Object.keys(snapshot.config.bots),
    };
  } catch (error) {
    return { ok: false, error: failureOf(error, target.dropIn ?? target.location.mainFile) };
  }
}

function assertDropIn(path: string): void {
  const problem = !DROP_IN_NAME.test(basename(path))
    ? 'a drop-in is read only if its name ends in .yaml, .yml or .json and does not start with a dot'
    : !existsSync(path)
      ? 'no such file'
      : undefined;
  if (problem) {
    throw new HiveError('HIVE_CONFIG_UNREADABLE', `${path}: ${problem}`, {
      problems: [{ file: path, path: '', message: problem }],
    });
  }
}

/** The text `hived --check-config` prints (without --json). */
export function renderCheck(result: CheckResult): string {
  if (result.ok) {
    const files = result.files.map((f) => `  ${f.role.padEnd(7)} ${f.path}`);
    const base = result.base === 'embedded' ? ['  main    (none: the embedded default)'] : [];
    return [
      `config ok: ${result.botKinds.length} bot kinds (${result.botKinds.join(', ') || 'none'}); checksum ${result.checksum.slice(0, 12)}`,
      ...base,
      ...files,
    ].join('\n');
  }
  return [
    `config invalid [${result.error.code}]:`,
    ...result.error.problems.map((p) => `  ${p.file}: ${formatProblem(p)}`),
  ].join('\n');
}
