import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { invalid } from '../../daemon/config/load.ts';
import { type ConfigApplier, ConfigManager } from '../../daemon/config/manager.ts';
import { configLocation, readSnapshot } from '../../daemon/config/sources.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import { LogHub } from '../../daemon/logs/log-hub.ts';
import type { ConfigChangeRecord } from '../../protocol/config.ts';
import { tempDir } from '../helpers/daemon.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A manager on a real file and a real log hub, with appliers written by the test. */
async function setup(t: ExecutionContext, first: Record<string, unknown>) {
  const dir = tempDir(t);
  const file = join(dir, 'hive.yaml');
  const write = (config: Record<string, unknown>) =>
    writeFileSync(file, JSON.stringify({ config: { watch: false }, ...config }));
  write(first);
  const location = configLocation(file, ROOT);
  const logs = new LogHub({
    dir,
    level: 'error',
    console: 'off',
    tailMaxBytes: 65_536,
    flushTimeoutMs: 1000,
  });
  t.teardown(() => logs.close());
  const manager = new ConfigManager(
    location,
    { explicit: true },
    await readSnapshot(location, { mainRequired: true }),
    {
      clock: systemClock,
      log: logs.part('config', { stream: false }),
      record: logs.part('config'),
    },
  );
  t.teardown(() => manager.close());
  const events: ConfigChangeRecord[] = [];
  manager.on('applied', (r) => events.push(r));
  manager.on('rejected', (r) => events.push(r));
  await manager.start();
  return { manager, write, events, file };
}

test('every part prepares before any commits: one refusal rejects the whole load', async (t) => {
  const { manager, write, events, file } = await setup(t, { queue: { defaultPriority: 5 } });
  const committed: number[] = [];
  const queuePart: ConfigApplier = {
    configPart: 'queue-part',
    configKeys: ['queue'],
    prepareConfig: (next) => () => {
      committed.push(next.config.queue.defaultPriority);
      return [`priority now ${next.config.queue.defaultPriority}`];
    },
  };
  const picky: ConfigApplier = {
    configPart: 'picky',
    configKeys: ['bots'],
    prepareConfig: (next) => {
      if (next.config.bots.bad)
        throw invalid([{ file, path: 'bots.bad.command', message: 'no such program' }]);
      return () => undefined;
    },
  };
  manager.register(queuePart);
  manager.register(picky);
  t.is(events[0]?.trigger, 'start');

  write({ queue: { defaultPriority: 2 } });
  const applied = await manager.reload('command');
  t.is(applied.outcome, 'applied');
  t.deepEqual(applied.diff, [{ key: 'queue.defaultPriority', old: 5, new: 2 }]);
  t.deepEqual(applied.notes, ['priority now 2']);
  t.deepEqual(committed, [2]);

  write({ queue: { defaultPriority: 7 }, bots: { bad: { command: 'x' } } });
  const rejected = await manager.reload('signal');
  t.is(rejected.outcome, 'rejected');
  t.deepEqual(committed, [2], 'the queue part never saw the rejected config');
  t.is(manager.config.queue.defaultPriority, 2, 'the running config stays');
  t.deepEqual(rejected.error?.problems, [
    { file, path: 'bots.bad.command', message: 'no such program' },
  ]);
  t.is(manager.status().lastError?.trigger, 'signal');

  // The events carry the same self-contained records, in order.
  t.deepEqual(
    events.map((e) => [e.trigger, e.outcome]),
    [
      ['start', 'applied'],
      ['command', 'applied'],
      ['signal', 'rejected'],
    ],
  );
  t.is(events[1], applied);
  t.true(Number.isFinite(Date.parse(events[2]?.time ?? '')));
});

test('unclaimed keys wait for a restart and keep their running value; secrets are redacted in events', async (t) => {
  const { manager, write, events } = await setup(t, {});
  manager.register({
    configPart: 'bots',
    configKeys: ['bots'],
    prepareConfig: () => () => undefined,
  });
  write({
    daemon: { socket: '/run/other.sock' },
    bots: { echo: { command: 'bots/echo.ts', env: { API_TOKEN: 'hunter2' } } },
  });
  const record = await manager.reload('command');
  t.deepEqual(record.restartRequired, [{ key: 'daemon.socket', new: '/run/other.sock' }]);
  t.is(manager.config.daemon.socket, undefined, 'the running value stays');
  t.deepEqual(manager.status().pendingRestart, [{ key: 'daemon.socket', new: '/run/other.sock' }]);
  t.false(JSON.stringify(events).includes('hunter2'), 'no secret in any event');
  t.deepEqual((record.diff[0]?.new as { env: unknown } | undefined)?.env, {
    API_TOKEN: '<redacted>',
  });
  t.true(Object.isFrozen(manager.config.bots), 'parts get a snapshot they cannot change');

  // Seen again: nothing new.
  t.is((await manager.reload('command')).outcome, 'unchanged');
});
