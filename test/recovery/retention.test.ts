/**
 * Retention with fixed clocks: the pure policy, then a real backup folder
 * pruned through the recovery part with an injected clock.
 */
import { join } from 'node:path';
import test from 'ava';
import { EMPTY_REGISTRY } from '../../daemon/bots/supervisor.ts';
import { captureState, type StateSources } from '../../daemon/recovery/capture.ts';
import { BackupCatalog } from '../../daemon/recovery/catalog.ts';
import { StateInstaller } from '../../daemon/recovery/installer.ts';
import type { BackupKind } from '../../daemon/recovery/manifest.ts';
import { noPause } from '../../daemon/recovery/pause-points.ts';
import { type BackupConfig, RecoveryService } from '../../daemon/recovery/recovery.ts';
import { StartupRecovery } from '../../daemon/recovery/repair.ts';
import { planRetention, type RetentionRules } from '../../daemon/recovery/retention.ts';
import { tempDir } from '../helpers/daemon.ts';
import { flipByte, silentLog } from '../helpers/recovery.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 2026-03-10T12:00:00Z: "now" in every test here. */
const NOW = Date.UTC(2026, 2, 10, 12);

const rules = (over: Partial<RetentionRules> = {}): RetentionRules => ({
  maxAgeMs: 7 * DAY,
  maxPerKind: 100,
  keepLast: 0,
  keepDaily: 0,
  restorePoints: 20,
  ...over,
});

const item = (id: string, ageMs: number, group = 'full', good = true) => ({
  id,
  group,
  createdAtMs: NOW - ageMs,
  good,
});

const kept = (decisions: ReturnType<typeof planRetention>) =>
  decisions.filter((d) => d.keep).map((d) => d.id);

test('age: backups older than maxAge go, the rest stay', (t) => {
  const items = [item('a', 9 * DAY), item('b', 8 * DAY), item('c', 6 * DAY), item('d', HOUR)];
  t.deepEqual(kept(planRetention(items, rules(), NOW)), ['c', 'd']);
});

test('keep-last holds the newest N whatever their age', (t) => {
  const items = [item('a', 30 * DAY), item('b', 20 * DAY), item('c', 10 * DAY)];
  t.deepEqual(kept(planRetention(items, rules({ keepLast: 2 }), NOW)), ['b', 'c']);
});

test('keep-daily holds the newest backup of each of the last N days that have one', (t) => {
  // Two on each of four old days (10:00 and 20:00 UTC), none younger than maxAge.
  const items = [10, 11, 12, 13].flatMap((d) => [
    item(`d${d}-morning`, d * DAY + 2 * HOUR),
    item(`d${d}-evening`, d * DAY - 8 * HOUR),
  ]);
  const decisions = planRetention(items, rules({ keepDaily: 3 }), NOW);
  t.deepEqual(kept(decisions), ['d12-evening', 'd11-evening', 'd10-evening']);
  const why = decisions.find((d) => d.id === 'd13-evening')?.reasons.join();
  t.regex(why ?? '', /older than 7d, not held by keep-last 0 or keep-daily 3/);
});

test('maxPerKind caps each kind; keep rules outrank age when the cap bites', (t) => {
  const items = [
    item('old-daily', 20 * DAY),
    ...Array.from({ length: 5 }, (_, i) => item(`young${i}`, (i + 1) * HOUR)),
  ];
  const decisions = planRetention(items, rules({ maxPerKind: 3, keepDaily: 10 }), NOW);
  // Newest good (young0), then keep-daily (young0 and old-daily: one per day), then age.
  t.deepEqual(kept(decisions), ['old-daily', 'young1', 'young0']);
  t.regex(decisions.find((d) => d.id === 'young4')?.reasons.join() ?? '', /over the limit of 3/);
});

test('the newest good backup is never pruned, even when every rule would drop it', (t) => {
  const items = [item('good', 40 * DAY), item('bad-newer', 30 * DAY, 'full', false)];
  t.deepEqual(kept(planRetention(items, rules({ maxPerKind: 1 }), NOW)), ['good']);
});

test('kinds are pruned apart, and restore points by count only', (t) => {
  const items = [
    item('q-old', 10 * DAY, 'queue'),
    item('f-old', 10 * DAY, 'full'),
    item('f-new', HOUR, 'full'),
    item('rp1', 300 * DAY, 'restore-point'),
    item('rp2', 200 * DAY, 'restore-point'),
    item('rp3', 100 * DAY, 'restore-point'),
  ];
  const decisions = planRetention(items, rules({ restorePoints: 2 }), NOW);
  // q-old is the only queue backup, so the newest good of its kind.
  t.deepEqual(kept(decisions), ['rp2', 'rp3', 'q-old', 'f-new']);
});

/** Writes a backup of a tiny state at a fixed time. */
function writer(catalog: BackupCatalog, clock: { t: number }) {
  let seq = 0;
  return async (kind: BackupKind, at: number) => {
    seq += 1;
    const sources: StateSources = {
      queue: {
        lastSeq: seq,
        snapshotJson: () => ({ seq, json: '{"tasks":[]}' }),
        tasks: () => [],
      },
      registry: { data: EMPTY_REGISTRY },
    };
    clock.t = at;
    const parts = kind === 'full' ? (['queue', 'registry', 'assignments'] as const) : [kind];
    return (await catalog.write(captureState(sources, parts), { kind, source: 'schedule' })).id;
  };
}

test('prune and prune --dry-run on a real backup folder with a fixed clock', async (t) => {
  const root = tempDir(t);
  const clock = { t: NOW, now: () => clock.t };
  const log = silentLog();
  const catalog = new BackupCatalog(
    { dir: join(root, 'backups'), version: 'test' },
    { clock, log, pause: noPause },
  );
  await catalog.open();
  const write = writer(catalog, clock);
  // Every 12 h for 10 days (fulls), plus two queue backups.
  const fulls: string[] = [];
  for (let h = 240; h >= 0; h -= 12) fulls.push(await write('full', NOW - h * HOUR));
  // Three queue backups on one day, nine days ago.
  const queueBackups = [];
  for (const hour of [9, 10, 11])
    queueBackups.push(await write('queue', NOW - 10 * DAY + hour * HOUR));
  const [queueOld, queueMiddle, queueNew] = queueBackups;
  clock.t = NOW;

  const config: BackupConfig = {
    intervalMs: 0,
    repairOnStart: true,
    retention: { maxAgeMs: 3 * DAY, maxPerKind: 100, keepLast: 1, keepDaily: 5, restorePoints: 20 },
  };
  const service = recoveryWithoutLiveState(root, catalog, clock, config);
  // The newest full backup is damaged: the newest *good* one must survive whatever the rules.
  const newest = fulls.at(-1) as string;
  flipByte(join(root, 'backups', newest, 'queue.json'));

  const dry = await service.prune({ dryRun: true });
  const expectedKept = new Set([
    // fulls younger than 3 days: -72 h ... 0 h (7 backups; keep-last 1 is among them)
    ...fulls.slice(-7),
    // keep-daily 5: days with backups are 10.3 ... 6.3; 6.3's newest (12:00) is the one
    // not already held by age
    fulls[fulls.length - 9],
    // queue: the newest good of its kind, also keep-last 1 and the newest of its day
    queueNew,
  ]);
  t.deepEqual(dry.kept.map((d) => d.id).sort(), [...expectedKept].sort());
  t.is(dry.removed.length, fulls.length + 3 - expectedKept.size);
  t.true(dry.removed.some((d) => d.id === queueOld));
  t.true(dry.removed.some((d) => d.id === queueMiddle));
  t.is(catalog.entries().length, fulls.length + 3, 'a dry run deletes nothing');
  t.is(
    catalog.entries().find((e) => e.id === newest)?.check?.ok,
    false,
    'the damaged newest backup was found out',
  );

  const real = await service.prune({ dryRun: false });
  t.deepEqual(
    real.removed.map((d) => d.id),
    dry.removed.map((d) => d.id),
  );
  t.deepEqual(
    catalog
      .entries()
      .map((e) => e.id)
      .sort(),
    [...expectedKept].sort(),
  );
  // What the index says is what the folder holds.
  const reopened = new BackupCatalog(
    { dir: join(root, 'backups'), version: 'test' },
    { clock, log, pause: noPause },
  );
  const report = await reopened.open();
  t.is(report.rebuilt, undefined);
  t.deepEqual(
    reopened
      .entries()
      .map((e) => e.id)
      .sort(),
    [...expectedKept].sort(),
  );
});

function recoveryWithoutLiveState(
  root: string,
  catalog: BackupCatalog,
  clock: { now(): number },
  config: BackupConfig,
): RecoveryService {
  const log = silentLog();
  const installer = new StateInstaller(join(root, 'db'), { pause: noPause });
  const startup = new StartupRecovery(
    { dbDir: join(root, 'db'), stateDir: root, repairOnStart: true },
    { catalog, installer, log, clock },
  );
  return new RecoveryService(
    { config },
    {
      clock,
      log,
      catalog,
      installer,
      startup,
      start: { lastStart: 'clean', firstStart: true, detail: 'test', previousRun: null },
      scratchDir: join(root, 'scratch'),
      onFatal: (reason) => {
        throw new Error(reason);
      },
    },
  );
}
