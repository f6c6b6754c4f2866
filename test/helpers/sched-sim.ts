/**
 * A discrete-event run of the real scheduler on an injected clock and
 * random source: tasks arrive at a fixed rate, the scheduler picks among
 * real (unstarted, ready) Bot objects exactly as the dispatcher would give
 * them, and each task finishes after a service time the test decides. Two
 * simulated minutes take well under a second, and the same seed gives the
 * same run every time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Bot } from '../../daemon/bots/bot.ts';
import { resolveSpecs } from '../../daemon/bots/spec.ts';
import { type Config, ConfigSchema } from '../../daemon/config/schema.ts';
import { MinHeap } from '../../daemon/core/heap.ts';
import { Scheduling } from '../../daemon/scheduler/scheduling.ts';
import { EMPTY_SCHEDULER, type SavedScheduler } from '../../daemon/scheduler/stats.ts';
import { JsonDocument } from '../../daemon/store/json-document.ts';
import type { Task } from '../../daemon/tasks/task.ts';
import { memoryLogger } from './audit.ts';
import { ROOT } from './daemon.ts';
import { seeded } from './random.ts';

export interface Sim {
  clock: { now(): number };
  scheduling: Scheduling;
  bots: Bot[];
  /** Adds a ready bot to the pool (a scale-up). */
  addBot(): Bot;
  /** Runs until `untilMs`; `service` says how long a task takes on a bot at that moment and how it ends. */
  run(untilMs: number): void;
  /** Tasks given to each bot between two times (ms). */
  assigned(fromMs: number, toMs: number): Map<string, number>;
  /** Task latencies (arrival to end) between two times. */
  latencies(fromMs: number, toMs: number): number[];
}

export interface SimOptions {
  bots: number;
  concurrency: number;
  /** Tasks per second. */
  rate: number;
  scheduler?: Partial<Config['scheduler']>;
  seed?: number;
  service(bot: Bot, now: number, random: () => number): { ms: number; ok: boolean };
}

export function simulate(t: ExecutionContext, options: SimOptions): Sim {
  const dir = mkdtempSync(join(tmpdir(), 'hive-sim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let now = 0;
  const clock = { now: () => now };
  const random = seeded(options.seed ?? 1);
  const config = ConfigSchema.parse({
    scheduler: options.scheduler ?? {},
    bots: { work: { command: 'bots/echo.ts', concurrency: options.concurrency } },
  });
  const spec = resolveSpecs(config, { baseDir: ROOT }).get('work')?.spec;
  if (!spec) throw new Error('no spec');
  const bots: Bot[] = [];
  const addBot = () => {
    const index = bots.length;
    const bot = new Bot({ name: `work-${index}`, kind: 'work', index }, spec, {
      clock,
      log: memoryLogger(),
      spawner: {
        spawn: () => {
          throw new Error('a simulated bot is never started');
        },
      },
    });
    bot.state = 'ready';
    bots.push(bot);
    return bot;
  };
  for (let i = 0; i < options.bots; i++) addBot();
  const scheduling = new Scheduling({
    clock,
    log: memoryLogger(),
    doc: new JsonDocument<SavedScheduler>(
      join(dir, 'scheduler.json'),
      structuredClone(EMPTY_SCHEDULER),
    ),
    bots: { bots: () => bots },
    taskType: () => 'work',
    config: config.scheduler,
    random,
  });

  type Event = { at: number; task: Task; bot?: Bot; ok?: boolean; startedAt?: number };
  const events = new MinHeap<Event>((e) => e.at);
  const waiting: Task[] = [];
  const assignments: { at: number; bot: string }[] = [];
  const ends: { at: number; latency: number }[] = [];
  const arrivedAt = new Map<string, number>();
  let nextArrival = 0;
  let seq = 0;

  const dispatch = () => {
    while (waiting.length > 0) {
      const candidates = bots.filter((b) => b.available);
      const task = waiting[0] as Task;
      const bot = scheduling.pick(task, candidates);
      if (!bot) return;
      waiting.shift();
      bot.inflight.add(task.id);
      assignments.push({ at: now, bot: bot.name });
      const { ms, ok } = options.service(bot, now, random);
      events.push({ at: now + ms, task, bot, ok, startedAt: now });
    }
  };
  const finish = (event: Event) => {
    const bot = event.bot as Bot;
    bot.inflight.delete(event.task.id);
    scheduling.attemptEnded({
      task: event.task,
      bot: bot.name,
      botRef: bot,
      outcome: event.ok ? 'done' : 'error',
      startedAt: event.startedAt ?? now,
      at: now,
      permanent: false,
    });
    ends.push({ at: now, latency: now - (arrivedAt.get(event.task.id) ?? now) });
    arrivedAt.delete(event.task.id);
  };

  const run = (untilMs: number) => {
    for (;;) {
      const next = events.peek();
      const at = Math.min(next?.at ?? Number.POSITIVE_INFINITY, nextArrival);
      if (at > untilMs) break;
      now = at;
      if (next && next.at === at) finish(events.pop() as Event);
      else {
        const task = simTask(`t${seq++}`);
        arrivedAt.set(task.id, now);
        waiting.push(task);
        nextArrival += 1000 / options.rate;
      }
      dispatch();
    }
    now = untilMs;
  };

  return {
    clock,
    scheduling,
    bots,
    addBot,
    run,
    assigned(fromMs, toMs) {
      const counts = new Map<string, number>(bots.map((b) => [b.name, 0]));
      for (const a of assignments)
        if (a.at >= fromMs && a.at < toMs) counts.set(a.bot, (counts.get(a.bot) ?? 0) + 1);
      return counts;
    },
    latencies(fromMs, toMs) {
      return ends.filter((e) => e.at >= fromMs && e.at < toMs).map((e) => e.latency);
    },
  };
}

function simTask(id: string): Task {
  return {
    id,
    type: 'work',
    payload: null,
    priority: 5,
    state: 'running',
    attempts: 1,
    maxAttempts: 3,
    timeoutMs: 30_000,
    createdAt: 0,
    updatedAt: 0,
    availableAt: 0,
    history: [],
  };
}

/** One bot's share of the tasks assigned between two times. */
export function share(sim: Sim, bot: string, fromMs: number, toMs: number): number {
  const counts = sim.assigned(fromMs, toMs);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : (counts.get(bot) ?? 0) / total;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}
