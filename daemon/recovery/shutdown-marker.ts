import { unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDirectory, readFileIfExists, writeFileAtomic } from '../core/atomic-file.ts';
import type { JsonDocument } from '../store/json-document.ts';

export interface RunRecord {
  pid: number;
  startedAt: string;
}

export interface MetaDoc {
  runs: number;
  currentRun: RunRecord | null;
}

export const EMPTY_META: MetaDoc = { runs: 0, currentRun: null };

interface MarkerFile {
  pid: number;
  runStartedAt: string;
  stoppedAt: string;
  version: string;
  reason: string;
}

export interface StartReport {
  lastStart: 'clean' | 'crash';
  firstStart: boolean;
  /** Why the verdict: "marker written at ...", "no shutdown marker", "marker from an older run". */
  detail: string;
  previousRun: RunRecord | null;
}

/**
 * Tells a clean stop from a crash. The marker is written last on a clean
 * stop and removed first at start; it names the run it closes, so a marker
 * left from an older run (say, a failed removal) is recognised as stale.
 */
export class ShutdownMarker {
  readonly #path: string;
  readonly #meta: JsonDocument<MetaDoc>;
  #run: RunRecord | undefined;

  constructor(runDir: string, meta: JsonDocument<MetaDoc>) {
    this.#path = join(runDir, 'shutdown.marker');
    this.#meta = meta;
  }

  get path(): string {
    return this.#path;
  }

  /**
   * Judges the last stop and starts a new run. `metaLost` says meta.json was
   * unreadable and reset: the previous run is then unknown, and the stop is
   * reported as a crash rather than as a first start.
   */
  async begin(options: { metaLost?: string } = {}): Promise<StartReport> {
    const previous = this.#meta.data.currentRun;
    const marker = parseMarker(await readFileIfExists(this.#path));
    const report: StartReport = options.metaLost
      ? {
          lastStart: 'crash',
          firstStart: false,
          detail: `the run record was lost (${options.metaLost}); treated as a crash`,
          previousRun: null,
        }
      : judge(previous, marker);
    await unlink(this.#path).catch(() => {});
    await fsyncDirectory(dirname(this.#path));
    this.#run = { pid: process.pid, startedAt: new Date().toISOString() };
    this.#meta.data = { runs: this.#meta.data.runs + 1, currentRun: this.#run };
    await this.#meta.save();
    return report;
  }

  async writeClean(version: string, reason: string): Promise<void> {
    if (!this.#run) return;
    const marker: MarkerFile = {
      pid: process.pid,
      runStartedAt: this.#run.startedAt,
      stoppedAt: new Date().toISOString(),
      version,
      reason,
    };
    await writeFileAtomic(this.#path, `${JSON.stringify(marker)}\n`, 0o644);
  }
}

function parseMarker(text: string | undefined): MarkerFile | 'unreadable' | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<MarkerFile>;
    return typeof value.runStartedAt === 'string' ? (value as MarkerFile) : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

function judge(
  previous: RunRecord | null,
  marker: MarkerFile | 'unreadable' | undefined,
): StartReport {
  if (!previous) {
    return {
      lastStart: 'clean',
      firstStart: true,
      detail: 'first start of this state directory',
      previousRun: null,
    };
  }
  const crash = (detail: string): StartReport => ({
    lastStart: 'crash',
    firstStart: false,
    detail,
    previousRun: previous,
  });
  if (marker === undefined)
    return crash(
      `no shutdown marker: run started ${previous.startedAt} (pid ${previous.pid}) did not stop cleanly`,
    );
  if (marker === 'unreadable') return crash('shutdown marker is unreadable');
  if (marker.runStartedAt !== previous.startedAt)
    return crash(`stale shutdown marker from the run started ${marker.runStartedAt}`);
  return {
    lastStart: 'clean',
    firstStart: false,
    detail: `clean stop at ${marker.stoppedAt} (${marker.reason})`,
    previousRun: previous,
  };
}
