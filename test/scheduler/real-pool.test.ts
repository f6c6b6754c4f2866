/**
 * The scheduler with real bots: a pool of four where one runs 8× slower.
 * Round-robin and then adaptive (switched by a config reload) on the same
 * daemon, measured from the client: submit → done.
 */
import { join } from 'node:path';
import test from 'ava';
import type { Connection } from '../../client/connection.ts';
import type { SchedulerStats } from '../../protocol/messaging.ts';
import {
  fixtureBot,
  runHive,
  startDaemon,
  waitForReadyBots,
  writeConfig,
} from '../helpers/daemon.ts';
import { readLog } from '../helpers/fleet.ts';
import { percentile } from '../helpers/sched-sim.ts';

const CLIENTS = 8;

interface Run {
  latencies: number[];
  /** Tasks the slow bot ran. */
  slow: number;
}

/** `count` tasks of 10 ms (80 ms on the slow bot) from CLIENTS closed loops. */
async function measure(connections: Connection[], count: number, into: Run): Promise<void> {
  let left = count;
  await Promise.all(
    connections.map(async (connection) => {
      while (left-- > 0) {
        const start = performance.now();
        const done = (await connection.request('task.submit', {
          type: 'work',
          payload: { ms: 10 },
          wait: true,
        })) as { state: string; result?: { bot: string } };
        if (done.state !== 'done') throw new Error(`a task ended ${done.state}`);
        into.latencies.push(performance.now() - start);
        if (done.result?.bot === 'lagging-0') into.slow += 1;
      }
    }),
  );
}

test('adaptive beats round-robin at p95 on a pool with one slow bot; statistics survive a restart', async (t) => {
  const work = { concurrency: 4, taskTypes: ['work'] };
  const config = (policy: string) => ({
    scheduler: { policy, decisionLogShare: 0.2 },
    bots: {
      fast: fixtureBot('slow.ts', { ...work, instances: 3 }),
      lagging: fixtureBot('slow.ts', { ...work, env: { HIVE_FIXTURE_SLOWDOWN: '8' } }),
    },
  });
  const daemon = await startDaemon(t, { config: config('round-robin') });
  await waitForReadyBots(daemon, 4);
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => daemon.connect()));
  t.teardown(() => {
    for (const c of connections) c.close();
  });
  // The policies take turns (switched by a config reload), so that a busy
  // moment of a shared machine falls on both rather than on one.
  const runs = { 'round-robin': { latencies: [], slow: 0 }, adaptive: { latencies: [], slow: 0 } };
  for (let round = 0; round < 3; round++) {
    for (const policy of ['round-robin', 'adaptive'] as const) {
      writeConfig(daemon.stateDir, config(policy));
      await daemon.call('config.reload');
      await measure(connections, 24, { latencies: [], slow: 0 });
      await measure(connections, 80, runs[policy]);
    }
  }
  const p95 = (run: Run) => percentile(run.latencies, 95);
  const share = (run: Run) => run.slow / run.latencies.length;
  const [rr, adaptive] = [runs['round-robin'], runs.adaptive];
  t.log(
    `p95: round-robin ${p95(rr).toFixed(1)} ms, adaptive ${p95(adaptive).toFixed(1)} ms; the slow bot ran ${(share(rr) * 100).toFixed(0)} % and ${(share(adaptive) * 100).toFixed(0)} % of the tasks`,
  );
  t.true(p95(adaptive) < p95(rr), 'adaptive has the better p95');
  t.true(share(adaptive) < share(rr) / 3, 'because the slow bot gets few tasks');

  const stats = JSON.parse(
    (await runHive(['sched', 'stats', '--type', 'work', '--json', '--socket', daemon.socket]))
      .stdout,
  ) as SchedulerStats;
  t.is(stats.policy, 'adaptive');
  t.log(stats.rows.map((r) => `${r.bot} ${r.score} ${r.latencyMs} ms, ${r.done} done`).join('; '));
  const score = (bot: string) => stats.rows.find((r) => r.bot === bot)?.score ?? -1;
  for (const fast of ['fast-0', 'fast-1', 'fast-2'])
    t.true(score(fast) > score('lagging-0'), `${fast} ${score(fast)} > ${score('lagging-0')}`);
  const decisions = readLog(daemon, 'adaptive-scheduling.jsonl').filter(
    (l) => l.message === 'decision',
  );
  t.true(decisions.length > 0, 'decisions are sampled to adaptive-scheduling.jsonl');
  t.like(decisions.at(-1), { type: 'work', how: 'p2c' });
  t.true(Array.isArray(decisions.at(-1)?.scores));

  // Stopped and started again, it remembers what it learned.
  const before = new Map(stats.rows.map((r) => [r.bot, r.samples]));
  await daemon.call('daemon.stop');
  await daemon.exited;
  const again = await startDaemon(t, { stateDir: daemon.stateDir });
  const after = (await again.call('sched.stats', { type: 'work' })) as SchedulerStats;
  t.deepEqual(new Map(after.rows.map((r) => [r.bot, r.samples])), before);
  t.truthy(join(daemon.stateDir, 'db', 'scheduler.json'));
});
