/**
 * Durability against a real hived: kill -9 in the middle of a submission
 * storm, restart on the same state directory, and check that every
 * acknowledged task finishes exactly once.
 */
import test from 'ava';
import {
  echoBot,
  type Status,
  startDaemon,
  status,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { alive, pidOf } from '../helpers/process.ts';
import {
  allTasks,
  doneAttempts,
  type SubmitOutcome,
  slices,
  submitMany,
} from '../helpers/submit.ts';

const TOTAL = 1000;
const CLIENTS = 8;
const KILL_AFTER_ACKS = 400;

test('1,000 tasks from 8 clients, hived SIGKILLed mid-stream: every acknowledged task ends done exactly once', async (t) => {
  const config = {
    bots: { echo: echoBot({ instances: 4, concurrency: 4 }) },
    // Small enough that the queue compacts (snapshot + new journal segment) during the run.
    queue: { compactAfterBytes: 64 * 1024 },
  };
  const first = await startDaemon(t, { config });
  const before = await waitForReadyBots(first, 4, 'echo');
  const firstBotPids = before.bots.map((b) => b.pid).filter((p): p is number => p !== null);
  t.is(firstBotPids.length, 4);

  // Phase 1: 8 connections submit concurrently; hived dies by SIGKILL once
  // KILL_AFTER_ACKS submissions are acknowledged, with more in flight.
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => first.connect()));
  let acks = 0;
  let killed = false;
  const onAck = () => {
    acks += 1;
    if (!killed && acks >= KILL_AFTER_ACKS) {
      killed = true;
      first.kill('SIGKILL');
    }
  };
  const parts = slices(TOTAL, CLIENTS);
  const phase1 = await Promise.all(
    connections.map((connection, n) => submitMany(connection, parts[n] ?? [], { onAck })),
  );
  const exit = await first.exited;
  t.is(exit.signal, 'SIGKILL', 'hived died by SIGKILL');

  const acked = new Map<number, string>();
  const lost: number[] = [];
  const unsent: number[][] = [];
  const collect = (outcome: SubmitOutcome) => {
    for (const [i, id] of outcome.acked) acked.set(i, id);
    lost.push(...outcome.lost);
  };
  for (const outcome of phase1) {
    collect(outcome);
    unsent.push(outcome.unsent);
  }
  const ackedBeforeKill = acked.size;
  t.log(
    `before the kill: ${ackedBeforeKill} acknowledged, ${lost.length} in flight, ${TOTAL - ackedBeforeKill - lost.length} not sent`,
  );
  t.true(
    ackedBeforeKill >= KILL_AFTER_ACKS,
    'the kill came after the acknowledgements it waited for',
  );
  t.true(ackedBeforeKill < TOTAL, 'the kill came in the middle of the run');
  t.true(lost.length > 0, 'some submissions were in flight when hived died');

  // Its bots do not outlive it, even though it was killed with SIGKILL.
  await waitFor(() => firstBotPids.every((pid) => !alive(pid)), {
    timeoutMs: 10_000,
    what: "the killed daemon's bots to exit",
  });

  // Phase 2: restart on the same state directory; a crash is reported.
  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  const afterRestart = await status(second);
  t.is(afterRestart.daemon.lastStart, 'crash');
  t.not(afterRestart.daemon.pid, pidOf(first));

  // The submissions that never went out are sent now (the lost ones are not
  // re-sent: without an idempotency key that could make a duplicate).
  const connections2 = await Promise.all(unsent.map(() => second.connect()));
  t.teardown(() => {
    for (const c of connections2) c.close();
  });
  const phase2 = await Promise.all(
    connections2.map((connection, n) => submitMany(connection, unsent[n] ?? [])),
  );
  for (const outcome of phase2) {
    t.deepEqual(outcome.lost, []);
    t.deepEqual(outcome.unsent, []);
    collect(outcome);
  }
  t.is(acked.size + lost.length, TOTAL, 'every submission was either acknowledged or lost');

  const final = await waitFor(
    async () => {
      const s = await status(second);
      return s.queue.queued === 0 && s.queue.running === 0 && s.queue.done >= acked.size
        ? s
        : undefined;
    },
    { timeoutMs: 30_000, what: 'the queue to drain after the restart' },
  );
  const counts: Status['queue'] = final.queue;
  t.is(counts.failed, 0);
  t.is(counts.dead, 0);
  t.is(counts.cancelled, 0);

  const tasks = await allTasks(connections2[0]!);
  const byId = new Map(tasks.map((task) => [task.id, task]));
  t.is(tasks.length, counts.done, 'task.ls shows every task');

  // Every acknowledged task: present, done, one attempt that ended done, its own result.
  const problems: string[] = [];
  for (const [index, id] of acked) {
    const task = byId.get(id);
    if (!task) {
      problems.push(`task ${id} (#${index}) is missing`);
      continue;
    }
    if (task.state !== 'done') problems.push(`${id} (#${index}) is ${task.state}`);
    if (doneAttempts(task) !== 1)
      problems.push(`${id} (#${index}) has ${doneAttempts(task)} done attempts`);
    if (task.result?.echo?.i !== index)
      problems.push(`${id} (#${index}) has result ${JSON.stringify(task.result)}`);
  }
  t.deepEqual(problems, [], 'acknowledged tasks that did not end done exactly once');

  // Tasks nobody got an acknowledgement for can only be lost submissions, each at most once.
  const ackedIds = new Set(acked.values());
  const lostSet = new Set(lost);
  const extraIndices = tasks
    .filter((task) => !ackedIds.has(task.id))
    .map((task) => task.result?.echo?.i);
  t.true(
    extraIndices.every((i) => i !== undefined && lostSet.has(i)),
    `unacknowledged tasks come from lost submissions only: ${JSON.stringify(extraIndices)}`,
  );
  t.is(new Set(extraIndices).size, extraIndices.length, 'no lost submission exists twice');
  t.true(tasks.every((task) => task.state === 'done' && doneAttempts(task) === 1));
  const interrupted = tasks.filter((task) =>
    task.history.some((a) => a.outcome === 'requeued'),
  ).length;
  t.log(
    `after the restart: ${acked.size} acknowledged tasks done, ${extraIndices.length} of ${lost.length} lost submissions had been persisted, ${interrupted} were running at the kill`,
  );

  second.kill('SIGTERM');
  t.is((await second.exited).code, 0);
});

test('a SIGKILLed daemon leaves no stuck lock: the restart takes over and reports the crash', async (t) => {
  const config = { bots: { echo: echoBot() } };
  const first = await startDaemon(t, { config });
  await waitForReadyBots(first, 1);
  const queued = (await first.call('task.submit', { type: 'echo', payload: 'before' })) as {
    id: string;
  };
  first.kill('SIGKILL');
  await first.exited;

  const second = await startDaemon(t, { stateDir: first.stateDir, config });
  const s = await status(second);
  t.is(s.daemon.lastStart, 'crash');
  const task = (await second.call('task.wait', { id: queued.id, timeoutMs: 15_000 })) as {
    state: string;
    result: { echo: unknown };
  };
  t.is(task.state, 'done');
  t.is(task.result.echo, 'before');

  // A clean stop after the crash restart: the next start is clean again.
  second.kill('SIGTERM');
  t.is((await second.exited).code, 0);
  const third = await startDaemon(t, { stateDir: first.stateDir, config });
  t.is((await status(third)).daemon.lastStart, 'clean');
});
