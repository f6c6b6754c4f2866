import test from 'ava';
import { fixtureBot, startDaemon, tempDir, waitForReadyBots } from '../helpers/daemon.ts';
import {
  errorCode,
  gate,
  type SubmitAnswer,
  submit,
  waitFinal,
  waitTaskState,
} from '../helpers/fleet.ts';

test('priorities: with the only bot busy, queued tasks complete 0 first, FIFO within a priority', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { slow: fixtureBot('slow.ts', { concurrency: 1 }) } },
  });
  await waitForReadyBots(daemon, 1, 'slow');
  const hold = gate(tempDir(t));
  const blocker = await submit(daemon, 'slow', { payload: { gate: hold.path } });
  await waitTaskState(daemon, blocker.id, 'running');

  const priorities = [9, 5, 0, 7, 0, 3, 9, 1, undefined];
  const ids: string[] = [];
  for (const [i, priority] of priorities.entries()) {
    const args = { payload: { i }, ...(priority === undefined ? {} : { priority }) };
    ids.push((await submit(daemon, 'slow', args)).id);
  }
  t.like((await daemon.call('status')) as object, { queue: { queued: 9, running: 1 } });
  hold.open();

  const tasks = [];
  for (const id of ids) tasks.push(await waitFinal(daemon, id));
  t.is(tasks[8]?.priority, 5, 'the default priority is 5');
  const bySeq = [...tasks].sort(
    (a, b) => (a.result as { seq: number }).seq - (b.result as { seq: number }).seq,
  );
  const ran = bySeq.map((task) => (task.result as { payload: { i: number } }).payload.i);
  // Expected: by priority, then by submission order.
  const expected = priorities
    .map((p, i) => ({ p: p ?? 5, i }))
    .sort((a, b) => a.p - b.p || a.i - b.i)
    .map((e) => e.i);
  t.deepEqual(ran, expected);
  t.deepEqual(ran, [2, 4, 7, 5, 1, 8, 3, 0, 6]);
});

test('idempotency key: the same key returns the same task, sequentially and concurrently', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { slow: fixtureBot('slow.ts'), other: fixtureBot('slow.ts') } },
  });
  await waitForReadyBots(daemon, 2);

  const first = await submit(daemon, 'slow', { key: 'order-1', payload: { n: 1 } });
  t.true(first.created);
  const again = await submit(daemon, 'slow', { key: 'order-1', payload: { n: 2 } });
  t.is(again.id, first.id);
  t.false(again.created);
  const done = await waitFinal(daemon, first.id);
  t.deepEqual((done.result as { payload: unknown }).payload, { n: 1 }, 'the first payload ran');
  t.is(done.key, 'order-1');
  const afterDone = await submit(daemon, 'slow', { key: 'order-1' });
  t.is(afterDone.id, first.id, 'still the same task once it is done');
  t.is(afterDone.state, 'done');

  // Concurrent submissions with one key, each on its own connection.
  const separate = await Promise.all(
    Array.from({ length: 8 }, (_, n) => submit(daemon, 'slow', { key: 'order-2', payload: { n } })),
  );
  t.is(new Set(separate.map((s) => s.id)).size, 1, 'one id for all');
  t.is(separate.filter((s) => s.created).length, 1, 'exactly one created it');

  // Pipelined on one connection: the frames reach the daemon together.
  const connection = await daemon.connect();
  try {
    const pipelined = (await Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        connection.request('task.submit', { type: 'slow', key: 'order-3', payload: { n } }),
      ),
    )) as SubmitAnswer[];
    t.is(new Set(pipelined.map((s) => s.id)).size, 1, 'one id for all');
    t.is(pipelined.filter((s) => s.created).length, 1, 'exactly one created it');
  } finally {
    connection.close();
  }
  const listed = (await daemon.call('task.ls', { limit: 100 })) as { tasks: { id: string }[] };
  t.is(listed.tasks.length, 3, 'three keys, three tasks');

  t.is(
    await errorCode(submit(daemon, 'other', { key: 'order-1' })),
    'HIVE_TASK_KEY_CONFLICT',
    'a key names one task of one type',
  );
});
