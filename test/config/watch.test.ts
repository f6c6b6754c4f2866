import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import test from 'ava';
import {
  configValue,
  loadAfter,
  mainFile,
  nextRecords,
  records,
  saveAtomic,
} from '../helpers/config.ts';
import { echoBot, startDaemon, waitFor } from '../helpers/daemon.ts';

const config = (priority: number, extra: Record<string, unknown> = {}) => ({
  queue: { defaultPriority: priority },
  bots: { echo: echoBot() },
  ...extra,
});

/**
 * After a change and its load, a marker save: every load the change caused
 * shows up before the marker's, so "exactly these loads" needs no sleep.
 */
async function loadsOf(
  daemon: Awaited<ReturnType<typeof startDaemon>>,
  change: () => void | Promise<void>,
  markerPriority: number,
  extra: Record<string, unknown> = {},
): Promise<{ outcome: string; value: unknown; drain?: unknown }[]> {
  const seen = records(daemon).length;
  await change();
  const file = mainFile(daemon);
  // Wait for the change's own load before the marker, then for the marker's.
  await nextRecords(daemon, seen);
  saveAtomic(file, config(markerPriority, extra));
  const all = await waitFor(
    () => {
      const now = records(daemon).slice(seen);
      return now.some((r) => r.diff.some((c) => c.new === markerPriority)) ? now : undefined;
    },
    { what: 'the marker load' },
  );
  return all.slice(0, -1).map((r) => {
    const drain = r.diff.find((c) => c.key === 'daemon.drainTimeoutMs')?.new;
    return {
      outcome: r.outcome,
      value: r.diff.find((c) => c.key === 'queue.defaultPriority')?.new,
      ...(drain === undefined ? {} : { drain }),
    };
  });
}

test('atomic saves, vim backup renames and delete + re-create are each one load', async (t) => {
  const daemon = await startDaemon(t, { config: config(5) });
  await nextRecords(daemon, 0);
  const file = mainFile(daemon);

  // An editor's atomic save: temp file + rename over the original.
  const atomic = await loadAfter(daemon, () => saveAtomic(file, config(4)));
  t.is(atomic.outcome, 'applied');
  t.is(atomic.trigger, 'watch');
  t.deepEqual(atomic.diff, [{ key: 'queue.defaultPriority', old: 5, new: 4 }]);
  t.is(await configValue(daemon, 'queue.defaultPriority'), 4);

  // vim with writebackup: rename the original away, write a new file, drop the backup.
  const vim = await loadsOf(
    daemon,
    () => {
      renameSync(file, `${file}~`);
      writeFileSync(file, JSON.stringify(config(3)));
      unlinkSync(`${file}~`);
    },
    9,
  );
  t.deepEqual(vim, [{ outcome: 'applied', value: 3 }], 'no load saw the file missing');

  // Delete and re-create at once (a tool that removes and rewrites).
  const quick = await loadsOf(
    daemon,
    () => {
      unlinkSync(file);
      writeFileSync(file, JSON.stringify(config(2)));
    },
    8,
  );
  t.deepEqual(quick, [{ outcome: 'applied', value: 2 }]);

  // Delete, and re-create later: rejected while missing, applied when back.
  const missing = await loadAfter(daemon, () => unlinkSync(file));
  t.is(missing.outcome, 'rejected');
  t.is(missing.error?.code, 'HIVE_CONFIG_UNREADABLE');
  t.is(await configValue(daemon, 'queue.defaultPriority'), 8, 'the running config stays');
  const back = await loadAfter(daemon, () => writeFileSync(file, JSON.stringify(config(1))));
  t.is(back.outcome, 'applied');
  t.is(await configValue(daemon, 'queue.defaultPriority'), 1);
});

test('a burst of 20 saves is one load, with the last content', async (t) => {
  // On a loaded 2-core machine this test's own process can be descheduled for
  // longer than the default 50 ms quiet time between two of its saves, which
  // would rightly make two bursts; the test is about coalescing, so it gives
  // the burst room.
  const settings = { config: { debounceMs: 250 } };
  const daemon = await startDaemon(t, { config: config(5, settings) });
  await nextRecords(daemon, 0);
  const file = mainFile(daemon);
  const loads = await loadsOf(
    daemon,
    () => {
      // Half of them in place, half as atomic saves: both kinds of events.
      for (let i = 0; i < 20; i++) {
        const content = config(1 + (i % 8), { ...settings, daemon: { drainTimeoutMs: 1000 + i } });
        if (i % 2) saveAtomic(file, content);
        else writeFileSync(file, JSON.stringify(content));
      }
    },
    9,
    settings,
  );
  t.deepEqual(
    loads,
    [{ outcome: 'applied', value: 4, drain: 1019 }],
    'one load for the burst, with the content of the last save',
  );
});

test('a drop-in added, changed and removed is applied each time; SIGHUP reloads', async (t) => {
  const daemon = await startDaemon(t, { config: config(5, { config: { watch: false } }) });
  await nextRecords(daemon, 0);
  const dropIn = `${daemon.stateDir}/config/conf.d/50-priority.yaml`;
  // With watching off, only the signal makes hived look.
  writeFileSync(mainFile(daemon), JSON.stringify(config(5)));
  const signalled = await loadAfter(daemon, () => daemon.kill('SIGHUP'));
  t.is(signalled.trigger, 'signal');
  t.deepEqual(
    signalled.diff.map((c) => c.key),
    ['config.watch'],
    'watching is back on',
  );
  await waitFor(
    async () => ((await daemon.call('config.status')) as { watching: boolean }).watching,
  );

  mkdirSync(`${daemon.stateDir}/config/conf.d`, { recursive: true });
  const added = await loadAfter(daemon, () => saveAtomic(dropIn, 'queue: {defaultPriority: 7}\n'));
  t.deepEqual(added.diff, [{ key: 'queue.defaultPriority', old: 5, new: 7 }]);
  t.true(added.files.includes(dropIn));
  const got = (await daemon.call('config.get', { key: 'queue.defaultPriority' })) as {
    origin: { source: string; line: number };
  };
  t.deepEqual(got.origin, { source: dropIn, line: 1 });
  const removed = await loadAfter(daemon, () => unlinkSync(dropIn));
  t.deepEqual(removed.diff, [{ key: 'queue.defaultPriority', old: 7, new: 5 }]);
  t.false(removed.files.includes(dropIn));
  t.true(daemon.process.exitCode === null, 'SIGHUP did not stop hived');
});
