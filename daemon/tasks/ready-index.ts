import { ReadyLanes } from '../core/ready-lanes.ts';
import type { Task } from './task.ts';

export const PRIORITY_LEVELS = 10;

/**
 * Queued tasks ready to run, by type and priority (0 first), FIFO within a
 * priority; tasks waiting out a retry delay sit in a heap until due. A task
 * cancelled while indexed is skipped lazily when it reaches the front.
 */
export class ReadyIndex extends ReadyLanes<Task> {
  constructor(tasks: (id: string) => Task | undefined) {
    super(
      PRIORITY_LEVELS,
      tasks,
      (task) => task.state === 'queued',
      (task) => task.type,
    );
  }

  /** Task types with a lane (some may be empty). */
  types(): IterableIterator<string> {
    return this.groups();
  }
}
