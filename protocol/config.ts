/**
 * The config commands' answers on the wire (`hive config ... --json`) and
 * the payload of the daemon's config events, shared by daemon and client.
 * Fields are added, never renamed.
 */
import type { WireError } from './errors.ts';
import type { Actor } from './wire.ts';

/** One thing wrong with a config file. */
export interface ConfigProblem {
  file: string;
  /** Dotted key path; empty for a problem with the file as a whole (syntax, empty). */
  path: string;
  message: string;
  line?: number;
}

/** "bots.echo.instances: expected integer ≥ 0, got "two" (line 7)" */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line ? ` (line ${p.line})` : '';
  return p.path ? `${p.path}: ${p.message}${where}` : `${p.message}${where}`;
}

/** One changed key: dotted path, value before and after (absent when the key was not set). */
export interface ConfigChange {
  key: string;
  old?: unknown;
  new?: unknown;
}

/** Where an effective value came from. */
export interface Origin {
  /** `default`, `embedded`, or the file that set it last. */
  source: string;
  line?: number;
}

/** What started a load: the daemon's start, a file change, `hive config reload`, SIGHUP. */
export type ConfigTrigger = 'start' | 'watch' | 'command' | 'signal';

export type ConfigOutcome = 'applied' | 'unchanged' | 'rejected';

/**
 * One load, applied or rejected: the line in config-changes.jsonl, the
 * answer of `hive config reload`, and the payload of the daemon's `applied`
 * and `rejected` config events. Self-contained, secrets already redacted.
 */
export interface ConfigChangeRecord {
  time: string;
  trigger: ConfigTrigger;
  actor?: Actor;
  /** The source files read (for a rejection: the files named by the errors). */
  files: string[];
  base: 'file' | 'embedded' | null;
  checksum: string | null;
  outcome: ConfigOutcome;
  /** Keys that changed and took effect (at start: the keys that differ from the defaults). */
  diff: ConfigChange[];
  /** Keys whose new value waits for a restart; the running value stays. */
  restartRequired: ConfigChange[];
  /** What the parts did (bots being replaced, overrides reset...). */
  notes: string[];
  error?: WireError & { problems: ConfigProblem[] };
  durationMs: number;
}

export interface ConfigSourceFile {
  path: string;
  role: 'main' | 'drop-in';
  sha256: string;
  bytes: number;
}

export interface ConfigStatus {
  mainFile: string;
  confDir: string;
  base: 'file' | 'embedded';
  baseDir: string;
  files: readonly ConfigSourceFile[];
  checksum: string;
  /** When the running config was loaded (ms since the epoch) and by what. */
  loadedAt: number;
  loadedBy: ConfigTrigger;
  lastAttempt: { at: number; trigger: ConfigTrigger; outcome: ConfigOutcome };
  /** The last rejection, until a load succeeds. */
  lastError: { at: number; trigger: ConfigTrigger; error: ConfigChangeRecord['error'] } | null;
  pendingRestart: ConfigChange[];
  watching: boolean;
  counts: Record<ConfigOutcome, number>;
}

export interface ConfigShow {
  base: 'file' | 'embedded';
  files: { path: string; role: 'main' | 'drop-in' }[];
  config: unknown;
  origins: Record<string, Origin>;
  pendingRestart: ConfigChange[];
}

export interface ConfigValue {
  key: string;
  value: unknown;
  /** For a single value: where it came from. */
  origin?: Origin;
  /** For a subtree: where each value under it came from. */
  origins?: Record<string, Origin>;
  pendingRestart?: boolean;
}

export const REDACTED = '<redacted>';
