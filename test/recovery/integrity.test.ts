/**
 * The pieces that make backups trustworthy, on real files: checksums and
 * the index (lost, corrupt, half-written backups), the invariants, the
 * trial restore, and the installer's all-or-nothing commit.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { EMPTY_REGISTRY, type RegistryDoc } from '../../daemon/bots/supervisor.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import { captureState, type StateSources } from '../../daemon/recovery/capture.ts';
import { BackupCatalog } from '../../daemon/recovery/catalog.ts';
import { StateInstaller } from '../../daemon/recovery/installer.ts';
import { checkInvariants } from '../../daemon/recovery/invariants.ts';
import { noPause, type PausePoint } from '../../daemon/recovery/pause-points.ts';
import { trialRestore } from '../../daemon/recovery/verify.ts';
import type { Task } from '../../daemon/tasks/task.ts';
import { tempDir } from '../helpers/daemon.ts';
import { flipByte, silentLog } from '../helpers/recovery.ts';

function task(id: string, over: Partial<Task> = {}): Task {
  return {
    id,
    type: 'echo',
    payload: { id },
    priority: 5,
    state: 'queued',
    attempts: 0,
    maxAttempts: 3,
    timeoutMs: 1000,
    createdAt: 1,
    updatedAt: 1,
    availableAt: 1,
    history: [],
    ...over,
  };
}

const running = (id: string, bot: string, token: number) =>
  task(id, { state: 'running', attempts: 1, lease: { bot, token, expiresAt: 9e12 } });

function sources(tasks: Task[], registry: RegistryDoc = EMPTY_REGISTRY, seq = 100): StateSources {
  return {
    queue: {
      lastSeq: seq,
      snapshotJson: () => ({ seq, json: JSON.stringify({ tasks }) }),
      tasks: () => tasks,
    },
    registry: { data: registry },
  };
}

const registry: RegistryDoc = {
  bots: {
    'echo-0': {
      kind: 'echo',
      pid: 1,
      startTicks: 1,
      state: 'ready',
      restarts: 0,
      tasksDone: 0,
      startedAt: 1,
    },
  },
  scale: {},
};

async function catalogIn(root: string, pause: PausePoint = noPause) {
  const catalog = new BackupCatalog(
    { dir: join(root, 'backups'), version: 'test' },
    { clock: systemClock, log: silentLog(), pause },
  );
  await catalog.open();
  return catalog;
}

test('invariants: a sound state passes; each broken invariant is named', (t) => {
  const tasks = new Map([
    ['a', task('a')],
    ['b', running('b', 'echo-0', 7)],
    ['c', task('c', { state: 'done', key: 'k' })],
  ]);
  const sound = {
    tasks,
    taskEntries: 3,
    keys: new Map([['k', 'c']]),
    queueSeq: 10,
    registry,
    assignments: {
      format: 1 as const,
      queueSeq: 10,
      bots: {
        'echo-0': {
          kind: 'echo',
          state: 'ready',
          pid: 1,
          tasks: [{ id: 'b', token: 7, expiresAt: 9e12 }],
        },
      },
    },
  };
  t.deepEqual(checkInvariants(sound), []);

  const problems = checkInvariants({
    ...sound,
    tasks: new Map([
      ['a', task('a', { lease: { bot: 'echo-0', token: 3, expiresAt: 1 } })],
      ['b', running('b', 'echo-0', 70)],
      ['d', task('d', { state: 'running' })],
      ['e', task('e', { state: 'lost' as Task['state'] })],
    ]),
    taskEntries: 5,
    keys: new Map([['k', 'c']]),
    assignments: {
      format: 1,
      queueSeq: 10,
      bots: {
        'echo-9': {
          kind: 'echo',
          state: 'ready',
          pid: 2,
          tasks: [{ id: 'b', token: 7, expiresAt: 1 }],
        },
      },
    },
  });
  const expect = [
    /1 task ids appear more than once/,
    /task a is queued but holds a lease/,
    /task b holds lease token 70, newer than the state/,
    /task d is running without a lease/,
    /task e is in no valid state/,
    /key "k" names task c, which does not exist/,
    /assignments name bot echo-9, which the registry does not know/,
    /bot echo-9 is assigned task b, which it does not hold/,
    /running task d has no assignment/,
  ];
  for (const pattern of expect)
    t.true(
      problems.some((p) => pattern.test(p)),
      String(pattern),
    );
});

test('a flipped byte and a missing file are reported by name; good files load', async (t) => {
  const root = tempDir(t);
  const catalog = await catalogIn(root);
  const tasks = [task('a'), running('b', 'echo-0', 7)];
  const entry = await catalog.write(
    captureState(sources(tasks, registry), ['queue', 'registry', 'assignments']),
    {
      kind: 'full',
      source: 'manual',
    },
  );
  t.deepEqual((await catalog.load(entry.id)).problems, []);

  flipByte(join(root, 'backups', entry.id, 'queue.json'));
  rmSync(join(root, 'backups', entry.id, 'assignments.json'));
  const loaded = await catalog.load(entry.id);
  t.deepEqual(
    loaded.problems.map((p) => p.file),
    ['queue.json', 'assignments.json'],
  );
  t.regex(loaded.problems[0]?.problem ?? '', /SHA-256 mismatch/);
  t.regex(loaded.problems[1]?.problem ?? '', /cannot be read: ENOENT/);
  t.true(loaded.files.has('registry'), 'the intact file still loads');
});

test('index.json lost or corrupt is rebuilt from the manifests; half-written backups are removed', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'backups');
  const catalog = await catalogIn(root);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(
      (
        await catalog.write(captureState(sources([task(`t${i}`)]), ['queue']), {
          kind: 'queue',
          source: 'manual',
          tag: `n${i}`,
        })
      ).id,
    );
  }
  await catalog.recordCheck(ids[0] as string, { at: 'x', ok: true, problems: [] });

  rmSync(join(dir, 'index.json'));
  const lost = await catalogIn(root);
  t.deepEqual(
    lost.entries().map((e) => e.id),
    ids,
  );
  t.deepEqual(
    lost.entries().map((e) => e.tag),
    ['n0', 'n1', 'n2'],
  );
  t.true(existsSync(join(dir, 'index.json')), 'rewritten');

  writeFileSync(join(dir, 'index.json'), '{"format":1,"backups":[{"id":');
  const reopened = new BackupCatalog(
    { dir, version: 'test' },
    { clock: systemClock, log: silentLog(), pause: noPause },
  );
  const report = await reopened.open();
  t.is(report.rebuilt, 'index.json is not valid JSON');
  t.deepEqual(
    reopened.entries().map((e) => e.id),
    ids,
  );

  // A backup folder removed by hand, and one a crash left half-written.
  rmSync(join(dir, ids[1] as string), { recursive: true });
  mkdirSync(join(dir, '.partial-20260101T000000000Z-full-abcdef'));
  const again = await catalogIn(root);
  t.deepEqual(
    again.entries().map((e) => e.id),
    [ids[0], ids[2]],
  );
  t.deepEqual(readdirSync(dir).sort(), [ids[0], ids[2], 'index.json'].sort());

  // While running: the index deleted behind the catalog's back is rebuilt on the next look.
  rmSync(join(dir, 'index.json'));
  t.true(await again.ensureIndex());
  t.true(existsSync(join(dir, 'index.json')));
  t.false(await again.ensureIndex());
});

test('the trial restore loads the backup with the real loader and finds a duplicated task', async (t) => {
  const root = tempDir(t);
  const catalog = await catalogIn(root);
  const good = await catalog.write(
    captureState(sources([task('a'), running('b', 'echo-0', 7)], registry), [
      'queue',
      'registry',
      'assignments',
    ]),
    { kind: 'full', source: 'manual' },
  );
  t.deepEqual(await trialRestore(await catalog.load(good.id), join(root, 'scratch')), []);

  const dup = await catalog.write(captureState(sources([task('a'), task('a')]), ['queue']), {
    kind: 'queue',
    source: 'manual',
  });
  const problems = await trialRestore(await catalog.load(dup.id), join(root, 'scratch'));
  t.true(
    problems.some((p) => /1 task ids appear more than once/.test(p)),
    problems.join('; '),
  );
  t.true(problems.some((p) => /manifest counts 2 tasks, the file holds 1/.test(p)));
  t.deepEqual(readdirSync(join(root, 'scratch')), [], 'the scratch folder is cleaned up');
});

/** A pause point that "crashes" (throws) at one named point. */
const crashAt =
  (point: string): PausePoint =>
  async (name) => {
    if (name === point) throw new Error(`crash at ${point}`);
  };

function installerCase(t: ExecutionContext) {
  const db = join(tempDir(t), 'db');
  mkdirSync(db);
  writeFileSync(join(db, 'a.json'), 'old a');
  writeFileSync(join(db, 'b.json'), 'old b');
  const files = [
    { name: 'a.json', data: 'new a' },
    { name: 'b.json', data: 'new b' },
    { name: 'c.wal', data: 'new c' },
  ];
  const read = () =>
    ['a.json', 'b.json', 'c.wal'].map((n) =>
      existsSync(join(db, n)) ? readFileSync(join(db, n), 'utf8') : null,
    );
  return { db, files, read };
}

test('installer: a crash before the commit leaves every old file; staging is swept', async (t) => {
  const { db, files, read } = installerCase(t);
  await t.throwsAsync(
    new StateInstaller(db, { pause: crashAt('install:staged') }).install('x', files),
  );
  t.deepEqual(read(), ['old a', 'old b', null]);
  t.is(await new StateInstaller(db, { pause: noPause }).completePending(), undefined);
  t.deepEqual(readdirSync(db).sort(), ['a.json', 'b.json']);
});

for (const point of ['install:committed', 'install:partial']) {
  test(`installer: a crash at ${point} is rolled forward to every new file`, async (t) => {
    const { db, files, read } = installerCase(t);
    let committed = false;
    await t.throwsAsync(
      new StateInstaller(db, { pause: crashAt(point) }).install('x', files, () => {
        committed = true;
      }),
    );
    t.true(committed);
    t.notDeepEqual(read(), ['new a', 'new b', 'new c'], 'the crash left it unfinished');
    const done = await new StateInstaller(db, { pause: noPause }).completePending();
    t.is(done?.label, 'x');
    t.deepEqual(read(), ['new a', 'new b', 'new c']);
    t.deepEqual(readdirSync(db).sort(), ['a.json', 'b.json', 'c.wal']);
  });
}
