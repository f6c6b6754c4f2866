/**
 * Benchmark 10 (issue 9): the scheduler.
 *
 * - Decision cost: the real Scheduling part (pool step + policy) picking
 *   among 100 ready bots whose statistics are warm, in process, a million
 *   times per policy; and the bookkeeping of a finished attempt
 *   (statistics + adaptive concurrency), so per task = both.
 * - Tail latency on a real daemon: 4 bots, one 5× slower (20 ms tasks, 100
 *   ms on the slow one), 8 clients in closed loops submitting and waiting;
 *   round-robin, then adaptive after a config reload, same daemon.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../client/connection.ts';
import { Bot } from '../daemon/bots/bot.ts';
import { resolveSpecs } from '../daemon/bots/spec.ts';
import { ConfigSchema } from '../daemon/config/schema.ts';
import type { Logger } from '../daemon/logs/log-hub.ts';
import { Scheduling } from '../daemon/scheduler/scheduling.ts';
import { EMPTY_SCHEDULER, type SavedScheduler } from '../daemon/scheduler/stats.ts';
import { JsonDocument } from '../daemon/store/json-document.ts';
import type { Task } from '../daemon/tasks/task.ts';
import { benchConfig, ROOT, round, type Summary, startDaemon, summarize } from './lib.ts';

const WORK_BOT = join(ROOT, 'bench', 'work-bot.ts');
type Policy = 'adaptive' | 'round-robin' | 'least-loaded';

export interface SchedulerBenchResult {
  bots: number;
  decisions: number;
  /** ns per pick, by policy. */
  pickNs: Record<Policy, number>;
  /** ns per finished attempt (statistics + adaptive concurrency). */
  attemptEndedNs: number;
  /** Per task under the adaptive policy: pick + attempt bookkeeping, µs. */
  adaptivePerTaskUs: number;
  pool: {
    taskMs: number;
    slowdown: number;
    clients: number;
    tasks: number;
    latencyMs: Record<'round-robin' | 'adaptive', Summary>;
    slowShare: Record<'round-robin' | 'adaptive', number>;
    /** round-robin p95 ÷ adaptive p95. */
    p95Ratio: number;
  };
}

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, event() {} };

function decisionCost(bots: number, decisions: number) {
  const dir = mkdtempSync(join(tmpdir(), 'hive-bench-sched-'));
  try {
    const config = ConfigSchema.parse({
      bots: { work: { command: 'bots/echo.ts', concurrency: 8 } },
    });
    const spec = resolveSpecs(config, { baseDir: ROOT }).get('work')?.spec;
    if (!spec) throw new Error('no spec');
    const clock = { now: () => Date.now() };
    const pool = Array.from({ length: bots }, (_, i) => {
      const bot = new Bot({ name: `work-${i}`, kind: 'work', index: i }, spec, {
        clock,
        log: quiet,
        spawner: {
          spawn: () => {
            throw new Error('not started');
          },
        },
      });
      bot.state = 'ready';
      for (let j = 0; j < i % 4; j++) bot.inflight.add(`busy-${i}-${j}`);
      return bot;
    });
    const task = { id: 't1', type: 'work', history: [] } as unknown as Task;
    const make = (policy: Policy) =>
      new Scheduling({
        clock,
        log: quiet,
        doc: new JsonDocument<SavedScheduler>(
          join(dir, 'scheduler.json'),
          structuredClone(EMPTY_SCHEDULER),
        ),
        bots: { bots: () => pool },
        taskType: () => 'work',
        config: { ...config.scheduler, policy },
      });
    const end = (s: Scheduling, bot: Bot, i: number) =>
      s.attemptEnded({
        task,
        bot: bot.name,
        botRef: bot,
        outcome: 'done',
        startedAt: i,
        at: i + 5 + (i % 7),
        permanent: false,
      });
    const pickNs = {} as Record<Policy, number>;
    let attemptEndedNs = 0;
    for (const policy of ['adaptive', 'round-robin', 'least-loaded'] as const) {
      const s = make(policy);
      for (let i = 0; i < 10_000; i++) end(s, pool[i % bots] as Bot, i);
      for (let i = 0; i < 100_000; i++) s.pick(task, pool); // warm-up (JIT)
      const start = process.hrtime.bigint();
      let sink = 0;
      for (let i = 0; i < decisions; i++) sink += s.pick(task, pool)?.index ?? 0;
      pickNs[policy] = round(Number(process.hrtime.bigint() - start) / decisions, 1);
      if (sink < 0) throw new Error('unreachable');
      if (policy === 'adaptive') {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < decisions; i++) end(s, pool[i % bots] as Bot, i);
        attemptEndedNs = round(Number(process.hrtime.bigint() - t0) / decisions, 1);
      }
    }
    return { pickNs, attemptEndedNs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function closedLoops(connections: Connection[], count: number, ms: number) {
  const latencies: number[] = [];
  const byBot = new Map<string, number>();
  let left = count;
  await Promise.all(
    connections.map(async (connection) => {
      while (left-- > 0) {
        const start = performance.now();
        const { id, state } = (await connection.request('task.submit', {
          type: 'work',
          payload: { ms },
          wait: true,
        })) as { id: string; state: string };
        if (state !== 'done') throw new Error(`a task ended ${state}`);
        latencies.push(performance.now() - start);
        const task = (await connection.request('task.get', { id })) as {
          history: { bot: string }[];
        };
        const bot = task.history.at(-1)?.bot ?? '?';
        byBot.set(bot, (byBot.get(bot) ?? 0) + 1);
      }
    }),
  );
  return { latencies, slowShare: (byBot.get('lagging-0') ?? 0) / count };
}

async function slowPool(options: {
  taskMs: number;
  slowdown: number;
  clients: number;
  tasks: number;
}) {
  const work = { command: WORK_BOT, concurrency: 4, taskTypes: ['work'] };
  const bots = {
    fast: { ...work, instances: 3 },
    lagging: { ...work, env: { BENCH_SLOWDOWN: String(options.slowdown) } },
  };
  const daemon = await startDaemon({
    instances: 0,
    ready: 4,
    bots,
    extra: { scheduler: { policy: 'round-robin' } },
  });
  const connections: Connection[] = [];
  try {
    for (let i = 0; i < options.clients; i++) connections.push(await daemon.connect());
    const latencyMs = {} as Record<'round-robin' | 'adaptive', Summary>;
    const slowShare = {} as Record<'round-robin' | 'adaptive', number>;
    for (const policy of ['round-robin', 'adaptive'] as const) {
      const config = benchConfig({ instances: 0, bots, extra: { scheduler: { policy } } });
      writeFileSync(join(daemon.stateDir, 'config', 'hive.yaml'), JSON.stringify(config));
      await daemon.call('config.reload');
      await closedLoops(connections, options.tasks / 4, options.taskMs);
      const run = await closedLoops(connections, options.tasks, options.taskMs);
      latencyMs[policy] = summarize(run.latencies);
      slowShare[policy] = round(run.slowShare, 3);
    }
    return {
      ...options,
      latencyMs,
      slowShare,
      p95Ratio: round(latencyMs['round-robin'].p95 / latencyMs.adaptive.p95, 2),
    };
  } finally {
    for (const c of connections) c.close();
    await daemon.stop();
  }
}

export async function benchScheduler(options: {
  log: (m: string) => void;
}): Promise<SchedulerBenchResult> {
  const bots = 100;
  const decisions = 1_000_000;
  options.log(
    `scheduler: decision cost with ${bots} bots (${decisions.toLocaleString('en-US')} picks per policy)`,
  );
  const cost = decisionCost(bots, decisions);
  options.log('scheduler: a pool with one bot 5× slower, round-robin then adaptive');
  const pool = await slowPool({ taskMs: 20, slowdown: 5, clients: 8, tasks: 800 });
  return {
    bots,
    decisions,
    ...cost,
    adaptivePerTaskUs: round((cost.pickNs.adaptive + cost.attemptEndedNs) / 1000, 3),
    pool,
  };
}

if (import.meta.main) {
  const result = await benchScheduler({ log: (m) => process.stderr.write(`[bench] ${m}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
