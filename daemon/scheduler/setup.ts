import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../logs/log-hub.ts';
import { JsonDocument } from '../store/json-document.ts';
import { type SchedulableBots, Scheduling } from './scheduling.ts';
import { EMPTY_SCHEDULER, type SavedScheduler } from './stats.ts';

/**
 * The scheduler with the statistics it kept across the last stop
 * (db/scheduler.json). They are soft state: unreadable, they are dropped
 * with a warning and learned again.
 */
export async function createScheduling(
  config: Config['scheduler'],
  deps: {
    path: string;
    clock: Clock;
    log: Logger;
    bots: SchedulableBots;
    taskType: (id: string) => string | undefined;
  },
): Promise<Scheduling> {
  const doc = new JsonDocument<SavedScheduler>(deps.path, structuredClone(EMPTY_SCHEDULER));
  await doc.load().catch((error: unknown) => {
    deps.log.warn(`scheduler statistics unreadable, starting without them: ${String(error)}`);
    doc.data = structuredClone(EMPTY_SCHEDULER);
  });
  return new Scheduling({
    clock: deps.clock,
    log: deps.log,
    doc,
    bots: deps.bots,
    taskType: deps.taskType,
    config,
  });
}
