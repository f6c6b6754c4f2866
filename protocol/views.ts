/**
 * Views of the daemon's state as commands answer them (`--json` output is
 * a contract): one definition for the daemon that builds them and the
 * client, tests and benchmarks that read them.
 */

export const BOT_STATES = [
  'starting',
  'ready',
  'stopping',
  'stopped',
  'backoff',
  'failed',
] as const;
export type BotState = (typeof BOT_STATES)[number];

/** One bot as `hive status --json` and `hive bots ls --json` show it. */
export interface BotView {
  /** The slot name (`echo-0`), stable across restarts. */
  name: string;
  kind: string;
  pid: number | null;
  state: BotState;
  restarts: number;
  tasksDone: number;
  tasksFailed: number;
  inflight: number;
  /** What it may run at once now: `configuredConcurrency` capped by the scheduler and the mode. */
  concurrency: number;
  configuredConcurrency: number;
  transport: 'ipc' | 'stdio';
  rssBytes: number | null;
  /** What the bot said in its `ready` message. */
  version?: string;
  readySince?: number;
  failureReason?: string;
  lastExit?: { code: number | null; signal: string | null; reason: string; at: number };
}

/** The answer of `backup.verify` for one backup. */
export interface BackupVerifyView {
  id: string;
  ok: boolean;
  problems: string[];
  bytes: number;
  checksumMs: number;
  /** Time to load the backup's state into a scratch folder (a trial restore). */
  trialMs: number;
}
