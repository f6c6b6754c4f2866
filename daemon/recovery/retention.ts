/**
 * Which backups to keep, in the manner of restic's `forget` policies. Pure:
 * the clock and the backups come in, decisions go out, so it is tested with
 * fixed times and `prune --dry-run` shows exactly what `prune` will do.
 *
 * Per group (each backup kind; restore points apart), newest first, a
 * backup is kept when a rule holds it:
 *   - it is the newest backup of the group that passes its checksums (always);
 *   - keep-last: among the newest `keepLast`;
 *   - keep-daily: the newest of its (UTC) day, for the newest `keepDaily` days
 *     that have a backup;
 *   - within `maxAgeMs` of now.
 * Then at most `maxPerKind` stay: the newest good one first, then those held
 * by keep-last, keep-daily, age, each newest first. Restore points are kept
 * by count alone (the newest `restorePoints`), since someone named them.
 */
import { compareText } from '../core/values.ts';
export interface RetentionRules {
  maxAgeMs: number;
  maxPerKind: number;
  keepLast: number;
  keepDaily: number;
  restorePoints: number;
}

export interface RetentionItem {
  id: string;
  group: string;
  createdAtMs: number;
  /** False when the backup is known to fail its checksums. */
  good: boolean;
}

export interface RetentionDecision {
  id: string;
  group: string;
  createdAtMs: number;
  keep: boolean;
  /** Why it stays (the rules holding it) or why it goes. */
  reasons: string[];
}

const DAY_MS = 86_400_000;

export function planRetention(
  items: readonly RetentionItem[],
  rules: RetentionRules,
  now: number,
): RetentionDecision[] {
  const groups = new Map<string, RetentionItem[]>();
  for (const item of items) {
    const list = groups.get(item.group) ?? [];
    list.push(item);
    groups.set(item.group, list);
  }
  const decisions: RetentionDecision[] = [];
  for (const [group, list] of groups) {
    list.sort((a, b) => b.createdAtMs - a.createdAtMs || compareText(b.id, a.id));
    decisions.push(
      ...(group === 'restore-point' ? restorePoints(list, rules) : plainGroup(list, rules, now)),
    );
  }
  return decisions.sort((a, b) => a.createdAtMs - b.createdAtMs || compareText(a.id, b.id));
}

function decide(item: RetentionItem, keep: boolean, reasons: string[]): RetentionDecision {
  return { id: item.id, group: item.group, createdAtMs: item.createdAtMs, keep, reasons };
}

function restorePoints(newestFirst: RetentionItem[], rules: RetentionRules): RetentionDecision[] {
  const newestGood = newestFirst.find((i) => i.good);
  return newestFirst.map((item, index) => {
    if (item === newestGood) return decide(item, true, ['newest good restore point']);
    if (index < rules.restorePoints)
      return decide(item, true, [`one of the newest ${rules.restorePoints} restore points`]);
    return decide(item, false, [`beyond the newest ${rules.restorePoints} restore points`]);
  });
}

function plainGroup(
  newestFirst: RetentionItem[],
  rules: RetentionRules,
  now: number,
): RetentionDecision[] {
  const newestGood = newestFirst.find((i) => i.good);
  const daily = new Set<RetentionItem>();
  const days = new Set<number>();
  for (const item of newestFirst) {
    const day = Math.floor(item.createdAtMs / DAY_MS);
    if (days.has(day)) continue;
    if (days.size >= rules.keepDaily) break;
    days.add(day);
    daily.add(item);
  }
  // rank: which rule holds it, 0 strongest; undefined: nothing does.
  const held = newestFirst.map((item, index) => {
    const reasons: string[] = [];
    let rank: number | undefined;
    const hold = (r: number, why: string) => {
      reasons.push(why);
      rank = Math.min(rank ?? r, r);
    };
    if (item === newestGood) hold(0, 'newest good backup');
    if (index < rules.keepLast) hold(1, `keep-last ${rules.keepLast}`);
    if (daily.has(item)) hold(2, `keep-daily ${rules.keepDaily}`);
    if (now - item.createdAtMs <= rules.maxAgeMs) hold(3, `younger than ${days_(rules.maxAgeMs)}`);
    return { item, reasons, rank };
  });
  const kept = new Set(
    held
      .filter((h) => h.rank !== undefined)
      .sort(
        (a, b) =>
          (a.rank as number) - (b.rank as number) || b.item.createdAtMs - a.item.createdAtMs,
      )
      .slice(0, Math.max(rules.maxPerKind, newestGood ? 1 : 0))
      .map((h) => h.item),
  );
  return held.map(({ item, reasons, rank }) => {
    if (kept.has(item)) return decide(item, true, reasons);
    if (rank !== undefined)
      return decide(item, false, [`over the limit of ${rules.maxPerKind} per kind`]);
    return decide(item, false, [
      `older than ${days_(rules.maxAgeMs)}, not held by keep-last ${rules.keepLast} or keep-daily ${rules.keepDaily}`,
    ]);
  });
}

function days_(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${ms} ms`;
}
