import type { Clock } from '../core/clock.ts';
import type { BackupCatalog } from './catalog.ts';
import { groupOf, type IndexEntry } from './manifest.ts';
import { planRetention, type RetentionDecision, type RetentionRules } from './retention.ts';

/**
 * Applies the retention policy to the backup folder. The policy protects
 * the newest *good* backup of each group, so the newest of each is checked
 * here (newest first, until one passes its checksums); older ones count as
 * good unless a verification found them bad.
 */
export async function planPrune(
  catalog: BackupCatalog,
  rules: RetentionRules,
  clock: Clock,
): Promise<{ removed: RetentionDecision[]; kept: RetentionDecision[] }> {
  const entries = catalog.entries();
  const good = await goodness(catalog, entries);
  const decisions = planRetention(
    entries.map((e) => ({
      id: e.id,
      group: groupOf(e),
      createdAtMs: e.createdAtMs,
      good: good.get(e.id) ?? true,
    })),
    rules,
    clock.now(),
  );
  return { removed: decisions.filter((d) => !d.keep), kept: decisions.filter((d) => d.keep) };
}

async function goodness(
  catalog: BackupCatalog,
  entries: readonly IndexEntry[],
): Promise<Map<string, boolean>> {
  const good = new Map<string, boolean>();
  const settled = new Set<string>();
  for (const entry of entries.toReversed()) {
    const group = groupOf(entry);
    if (settled.has(group) || entry.check?.ok === false) {
      good.set(entry.id, entry.check?.ok !== false);
      continue;
    }
    const loaded = await catalog.load(entry.id);
    const ok = loaded.problems.length === 0;
    good.set(entry.id, ok);
    if (ok) {
      settled.add(group);
      continue;
    }
    await catalog.recordCheck(entry.id, {
      at: new Date().toISOString(),
      ok,
      problems: loaded.problems.map((p) => `${p.file}: ${p.problem}`),
    });
  }
  return good;
}
