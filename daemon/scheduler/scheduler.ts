import type { ReleaseLabel } from '../../protocol/deploy.ts';
import type { Task } from '../tasks/task.ts';

/** What a scheduler reads of a bot (daemon/bots/bot.ts's Bot has all of it). */
export interface SchedBot {
  readonly name: string;
  readonly kind: string;
  readonly inflight: { readonly size: number };
  /** Tasks it may run at once now (configured, capped by adaptiveLimit, scaled by pressure). */
  readonly concurrency: number;
  readonly spec: { readonly concurrency: number };
  /** Set by the adaptive concurrency controller; undefined: no cap. */
  adaptiveLimit: number | undefined;
  /** The deployment pool it belongs to while a deployment runs (issue 8). */
  readonly release?: ReleaseLabel | undefined;
}

/** What a scheduler reads of a task. */
export type SchedTask = Pick<Task, 'id' | 'type' | 'history'>;

/**
 * Chooses which of the available bots runs a task. The dispatcher calls it
 * once per dispatch with bots that are ready and below their concurrency.
 */
export interface Scheduler {
  pick<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): B | undefined;
}

/**
 * The step before the bot choice: narrows the candidates to one pool, e.g.
 * a deployment's blue or green pool by weight (issue 8). The default keeps
 * them all. An empty answer means "no pool can take it now".
 */
export interface PoolSelector {
  select<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): readonly B[];
}

export const ALL_POOLS: PoolSelector = { select: (_task, candidates) => candidates };

/**
 * Bots that have not failed this task yet, when there are any: a retry goes
 * elsewhere if it can. Free unless the task has failed before.
 */
export function freshCandidates<B extends SchedBot>(
  task: SchedTask,
  candidates: readonly B[],
): readonly B[] {
  if (task.history.length === 0) return candidates;
  const failedOn = new Set<string>();
  for (const attempt of task.history)
    if (attempt.outcome && attempt.outcome !== 'done') failedOn.add(attempt.bot);
  if (failedOn.size === 0) return candidates;
  const fresh = candidates.filter((b) => !failedOn.has(b.name));
  return fresh.length > 0 ? fresh : candidates;
}

/** Least loaded first (in-flight share of concurrency), round robin among ties. */
export class LeastLoadedScheduler implements Scheduler {
  #turn = 0;

  pick<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): B | undefined {
    if (candidates.length === 0) return undefined;
    const pool = freshCandidates(task, candidates);
    this.#turn = (this.#turn + 1) % pool.length;
    let best: B | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < pool.length; i++) {
      const bot = pool[(this.#turn + i) % pool.length] as B;
      const load = bot.inflight.size / bot.concurrency;
      if (load < bestLoad) {
        best = bot;
        bestLoad = load;
      }
    }
    return best;
  }
}

/**
 * Each bot in turn, whatever its speed or load: the baseline the adaptive
 * policy is compared with. The turn follows bot names, so a bot that is
 * busy at its turn loses it to the next available one.
 */
export class RoundRobinScheduler implements Scheduler {
  #last = '';

  pick<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): B | undefined {
    if (candidates.length === 0) return undefined;
    const pool = freshCandidates(task, candidates);
    let next: B | undefined;
    let first: B | undefined;
    for (const bot of pool) {
      if (!first || bot.name < first.name) first = bot;
      if (bot.name > this.#last && (!next || bot.name < next.name)) next = bot;
    }
    const chosen = next ?? first;
    if (chosen) this.#last = chosen.name;
    return chosen;
  }
}
