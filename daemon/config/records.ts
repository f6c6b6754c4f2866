import type { ConfigChange, ConfigChangeRecord, ConfigTrigger } from '../../protocol/config.ts';
import type { Actor } from '../../protocol/wire.ts';
import type { Redactor } from './diff.ts';
import { failureOf } from './load.ts';
import type { ConfigSnapshot } from './sources.ts';

/** The records of loads (config-changes.jsonl, the config events) and their line in hived.log. */

interface RecordBase {
  trigger: ConfigTrigger;
  actor?: Actor;
  /** When the load ended (ms since the epoch). */
  at: number;
  durationMs: number;
}

export function acceptedRecord(
  input: RecordBase & {
    snapshot: ConfigSnapshot;
    diff: readonly ConfigChange[];
    held: readonly ConfigChange[];
    notes: readonly string[];
    redactor: Redactor;
  },
): ConfigChangeRecord {
  return {
    time: new Date(input.at).toISOString(),
    trigger: input.trigger,
    ...(input.actor ? { actor: input.actor } : {}),
    files: input.snapshot.files.map((f) => f.path),
    base: input.snapshot.base,
    checksum: input.snapshot.checksum,
    outcome: 'applied',
    diff: input.diff.map((c) => input.redactor.change(c)),
    restartRequired: input.held.map((c) => input.redactor.change(c)),
    notes: [...input.notes],
    durationMs: input.durationMs,
  };
}

/** A rejection names the files its problems are in (errors carry `details.problems`). */
export function rejectedRecord(
  input: RecordBase & { error: unknown; fallbackFile: string },
): ConfigChangeRecord {
  const { code, message, problems } = failureOf(input.error, input.fallbackFile);
  return {
    time: new Date(input.at).toISOString(),
    trigger: input.trigger,
    ...(input.actor ? { actor: input.actor } : {}),
    files: [...new Set(problems.map((p) => p.file))],
    base: null,
    checksum: null,
    outcome: 'rejected',
    diff: [],
    restartRequired: [],
    notes: [],
    error: { code, message, problems },
    durationMs: input.durationMs,
  };
}

/** Triggers as an operator reads them in hived.log. */
export const TRIGGER_TEXT: Record<ConfigTrigger, string> = {
  start: 'start',
  watch: 'file change',
  command: 'hive config reload',
  signal: 'SIGHUP',
};

export function summary(record: ConfigChangeRecord): string {
  if (record.trigger === 'start')
    return `config loaded from ${record.files.length ? record.files.join(', ') : 'the embedded default'}`;
  const by = TRIGGER_TEXT[record.trigger];
  if (record.outcome === 'unchanged') return `config reloaded (${by}): no changes`;
  const shown = (c: ConfigChange) =>
    `${c.key} ${short('old' in c ? c.old : '(not set)')} -> ${short('new' in c ? c.new : '(not set)')}`;
  const list = (changes: ConfigChange[]) =>
    changes.length > 6
      ? `${changes.slice(0, 6).map(shown).join(', ')} and ${changes.length - 6} more`
      : changes.map(shown).join(', ');
  const held = record.restartRequired.length
    ? `; needs a restart: ${list(record.restartRequired)}`
    : '';
  return `config applied (${by}): ${record.diff.length ? list(record.diff) : 'no live changes'}${held}`;
}

function short(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
