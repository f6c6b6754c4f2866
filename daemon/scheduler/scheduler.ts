import type { Bot } from '../bots/bot.ts';
import type { Task } from '../tasks/task.ts';

/**
 * Chooses which of the available bots runs a task. The dispatcher calls it
 * once per dispatch with bots that are ready and below their concurrency.
 */
export interface Scheduler {
  pick(task: Task, candidates: readonly Bot[]): Bot | undefined;
}

/**
 * Least loaded first (in-flight share of concurrency), avoiding bots that
 * already failed this task when another is free, round robin among ties.
 */
export class LeastLoadedScheduler implements Scheduler {
  #turn = 0;

  pick(task: Task, candidates: readonly Bot[]): Bot | undefined {
    if (candidates.length === 0) return undefined;
    const failedOn = new Set<string>();
    for (const attempt of task.history)
      if (attempt.outcome && attempt.outcome !== 'done') failedOn.add(attempt.bot);
    const fresh = failedOn.size > 0 ? candidates.filter((b) => !failedOn.has(b.name)) : candidates;
    const pool = fresh.length > 0 ? fresh : candidates;
    this.#turn = (this.#turn + 1) % pool.length;
    let best: Bot | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < pool.length; i++) {
      const bot = pool[(this.#turn + i) % pool.length] as Bot;
      const load = bot.inflight.size / bot.concurrency;
      if (load < bestLoad) {
        best = bot;
        bestLoad = load;
      }
    }
    return best;
  }
}
