import test from 'ava';
import type { Status } from '../helpers/daemon.ts';
import { fixtureBot, startDaemon, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { errorCode, getTask, submit, waitFinal, waitTaskState } from '../helpers/fleet.ts';

test('finished tasks beyond queue.retention.maxFinished are pruned; unfinished ones never are', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      queue: { retention: { maxFinished: 2, pruneIntervalMs: 50 } },
      bots: { slow: fixtureBot('slow.ts'), hang: fixtureBot('hang.ts') },
    },
  });
  await waitForReadyBots(daemon, 2);
  const stuck = await submit(daemon, 'hang', { timeoutMs: 60_000 });
  await waitTaskState(daemon, stuck.id, 'running');
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const { id } = await submit(daemon, 'slow', { payload: { i }, key: `k${i}` });
    t.is((await waitFinal(daemon, id)).state, 'done');
    ids.push(id);
  }
  const old = ids.slice(0, 4);
  await waitFor(
    async () => {
      const codes = await Promise.all(
        old.map((id) => errorCode(getTask(daemon, id)).catch(() => 'found')),
      );
      return codes.every((c) => c === 'HIVE_TASK_NOT_FOUND');
    },
    { what: 'the four oldest finished tasks to be pruned' },
  );
  for (const id of ids.slice(4))
    t.is((await getTask(daemon, id)).state, 'done', 'the newest two stay');
  t.is((await getTask(daemon, stuck.id)).state, 'running', 'a running task is never pruned');
  const status = (await daemon.call('status')) as Status;
  t.like(status.queue, { done: 2, running: 1 });
  t.is(await errorCode(daemon.call('task.wait', { id: old[0] })), 'HIVE_TASK_NOT_FOUND');

  // The key of a pruned task is free again: a new task, not the pruned one.
  const reused = await submit(daemon, 'slow', { key: 'k0' });
  t.true(reused.created);
  t.not(reused.id, ids[0]);
  // And the key of a kept task still names it.
  t.is((await submit(daemon, 'slow', { key: 'k5' })).id as string | undefined, ids[5]);
});

test('finished tasks older than queue.retention.maxAgeMs are pruned', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      queue: { retention: { maxFinished: 1_000, maxAgeMs: 300, pruneIntervalMs: 50 } },
      bots: { slow: fixtureBot('slow.ts') },
    },
  });
  await waitForReadyBots(daemon, 1, 'slow');
  const { id } = await submit(daemon, 'slow');
  const done = await waitFinal(daemon, id);
  t.is(done.state, 'done');
  const code = await waitFor(() => errorCode(getTask(daemon, id)).catch(() => undefined), {
    what: 'the task to age out',
  });
  t.is(code, 'HIVE_TASK_NOT_FOUND');
  t.like(((await daemon.call('status')) as Status).queue, { done: 0 });
});
