import type { DeployPool } from '../../protocol/deploy.ts';
import type { PoolSelector, SchedBot, SchedTask } from '../scheduler/scheduler.ts';

/** Green's share of one kind's tasks and what the current step dispatched to each pool. */
interface KindRoute {
  /** 0..1 */
  weight: number;
  types: ReadonlySet<string>;
  green: number;
  blue: number;
}

/** True when the task already failed on green: its retries go to blue (issue 8). */
function failedOnGreen(task: SchedTask): boolean {
  for (const attempt of task.history) {
    if (attempt.release?.pool !== 'green') continue;
    if (attempt.outcome && attempt.outcome !== 'done' && attempt.outcome !== 'requeued')
      return true;
  }
  return false;
}

/**
 * The scheduler's pool step during deployments: for a deployed kind's task
 * types, each task goes to green or blue by weight, then the scheduler
 * picks the bot within that pool. The choice is by deficit, not by chance:
 * a task goes to green when green's share of the step so far would stay at
 * or under the weight, which gives the exact share over any run of tasks
 * (random choice drifts by several points over a few hundred tasks). When
 * the chosen pool has no free bot the other pool takes the task (a
 * saturated green must not stall blue's traffic); the achieved share
 * reported beside the target shows the skew, and the deficit makes green
 * catch up once it has room. A weight of 0 never sends anything to green.
 */
export class WeightedPools implements PoolSelector {
  readonly #routes = new Map<string, KindRoute>();
  /** Task type → the deployed kind that handles it (rebuilt when routes change). */
  #byType = new Map<string, KindRoute>();

  /** Sets a kind's green weight (percent) and starts a new count (a new step). */
  set(kind: string, types: ReadonlySet<string>, percent: number): void {
    this.#routes.set(kind, { weight: percent / 100, types, green: 0, blue: 0 });
    this.#reindex();
  }

  /** Ends weighting for a kind: every bot of it is a candidate again. */
  clear(kind: string): void {
    if (this.#routes.delete(kind)) this.#reindex();
  }

  /** Tasks dispatched to each pool since the weight was set. */
  counts(kind: string): Record<DeployPool, number> | undefined {
    const route = this.#routes.get(kind);
    return route && { green: route.green, blue: route.blue };
  }

  #reindex(): void {
    const byType = new Map<string, KindRoute>();
    for (const route of this.#routes.values()) for (const t of route.types) byType.set(t, route);
    this.#byType = byType;
  }

  select<B extends SchedBot>(task: SchedTask, candidates: readonly B[]): readonly B[] {
    const route = this.#byType.get(task.type);
    if (!route) return candidates;
    const green: B[] = [];
    const blue: B[] = [];
    for (const bot of candidates) (bot.release?.pool === 'green' ? green : blue).push(bot);
    const greenAllowed = route.weight > 0 && !failedOnGreen(task);
    const total = route.green + route.blue;
    const wantGreen = greenAllowed && (route.green + 1) / (total + 1) <= route.weight + 1e-9;
    let toGreen = wantGreen ? green.length > 0 : blue.length === 0 && greenAllowed;
    if (toGreen && green.length === 0) toGreen = false;
    const chosen = toGreen ? green : blue;
    if (chosen.length === 0) return chosen;
    if (toGreen) route.green += 1;
    else route.blue += 1;
    return chosen;
  }
}
