import test from 'ava';
import {
  fixtureBot,
  runHive,
  startDaemon,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import {
  alive,
  bots,
  gate,
  getTask,
  submit,
  waitBot,
  waitFinal,
  waitTaskState,
} from '../helpers/fleet.ts';

test('scale up and down through bots.scale and hive bots scale', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { slow: fixtureBot('slow.ts') } } });
  await waitForReadyBots(daemon, 1, 'slow');
  const up = await runHive(['bots', 'scale', 'slow', '3', '--json', '--socket', daemon.socket]);
  t.is(up.code, 0, up.stderr);
  t.like(JSON.parse(up.stdout), { kind: 'slow', from: 1, to: 3 });
  const three = await waitForReadyBots(daemon, 3, 'slow');
  t.deepEqual(three.bots.map((b) => b.name).sort(), ['slow-0', 'slow-1', 'slow-2']);
  const gonePids = three.bots.filter((b) => b.name !== 'slow-0').map((b) => b.pid as number);

  t.like(await daemon.call('bots.scale', { kind: 'slow', instances: 1 }), { from: 3, to: 1 });
  t.deepEqual(
    (await bots(daemon)).map((b) => b.name),
    ['slow-0'],
  );
  t.false(gonePids.some(alive), 'scaled-down bots are gone when the call answers');

  // Zero bots: tasks wait in the queue; scaling up runs them.
  await daemon.call('bots.scale', { kind: 'slow', instances: 0 });
  const { id } = await submit(daemon, 'slow');
  t.is(((await daemon.call('task.get', { id })) as { state: string }).state, 'queued');
  await daemon.call('bots.scale', { kind: 'slow', instances: 1 });
  t.is((await waitFinal(daemon, id)).state, 'done');

  t.is(
    await daemon
      .call('bots.scale', { kind: 'nope', instances: 1 })
      .catch((e: { code: string }) => e.code),
    'HIVE_BOT_KIND_NOT_FOUND',
  );
});

test('scale down of a bot with a running task: the task finishes there within the stop grace', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { slow: fixtureBot('slow.ts', { instances: 2, stopTimeoutMs: 5_000 }) } },
  });
  await waitForReadyBots(daemon, 2, 'slow');
  const hold = gate(tempDir(t));
  const a = await submit(daemon, 'slow', { payload: { gate: hold.path } });
  const b = await submit(daemon, 'slow', { payload: { gate: hold.path } });
  const running = [
    await waitTaskState(daemon, a.id, 'running'),
    await waitTaskState(daemon, b.id, 'running'),
  ];
  const onOne = running.find((task) => task.bot === 'slow-1');
  t.truthy(onOne, 'one task runs on slow-1');

  const scaling = daemon.call('bots.scale', { kind: 'slow', instances: 1 });
  // slow-1 has its shutdown message and is waiting for its task: now let the task finish.
  await waitBot(daemon, 'slow-1', (b) => b.state === 'stopping', { what: 'slow-1 stopping' });
  hold.open();
  await scaling;
  const finished = await waitFinal(daemon, onOne?.id as string);
  t.is(finished.state, 'done');
  t.is(finished.history.length, 1, 'no second attempt was needed');
  t.is(finished.history[0]?.bot, 'slow-1');
  t.is((await waitFinal(daemon, onOne === running[0] ? b.id : a.id)).state, 'done');
});

test('scale down of a bot whose task outlasts the stop grace: the task is requeued and finishes elsewhere', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { slow: fixtureBot('slow.ts', { instances: 2, stopTimeoutMs: 200 }) } },
  });
  await waitForReadyBots(daemon, 2, 'slow');
  // Two long tasks, one per bot.
  const hold = gate(tempDir(t));
  const ids = [
    (await submit(daemon, 'slow', { payload: { gate: hold.path } })).id,
    (await submit(daemon, 'slow', { payload: { gate: hold.path } })).id,
  ];
  const running = await Promise.all(ids.map((id) => waitTaskState(daemon, id, 'running')));
  const moved = running.find((task) => task.bot === 'slow-1');
  t.truthy(moved, 'one task runs on slow-1');

  await daemon.call('bots.scale', { kind: 'slow', instances: 1 });
  const requeued = await waitFor(
    async () => {
      const task = await getTask(daemon, moved?.id as string);
      return task.history[0]?.outcome ? task : undefined;
    },
    { what: 'the first attempt to end' },
  );
  t.is(requeued.history[0]?.outcome, 'requeued', 'requeued when slow-1 stopped; not finished');
  hold.open();
  const finished = await waitFinal(daemon, moved?.id as string);
  t.is(finished.state, 'done');
  t.is(finished.history.length, 2);
  t.is(finished.history[0]?.bot, 'slow-1');
  t.is(finished.history[0]?.outcome, 'requeued', 'a stop by the daemon is not a failed attempt');
  t.regex(finished.history[0]?.error ?? '', /scaled down/);
  t.is(finished.history[1]?.bot, 'slow-0');
  t.is(finished.attempts, 1);
  for (const id of ids) t.is((await waitFinal(daemon, id)).state, 'done');
});
