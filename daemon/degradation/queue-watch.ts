import type { Clock } from '../core/clock.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';

export interface TypeDepth {
  queued: number;
  /** Seconds since the longest-waiting queued task (re)entered the queue. */
  oldestAgeSeconds: number;
}

/**
 * Queued tasks per type, in the order they entered the queue, kept from the
 * queue's events: depth and oldest age per type cost O(1) a sample instead
 * of a scan of every task. A requeued or retried task enters again at the
 * back: its age counts from then.
 */
export class QueueWatch {
  /** type → (task id → when it entered the queue); a Map keeps insertion order. */
  readonly #byType = new Map<string, Map<string, number>>();
  readonly #queue: TaskQueue;
  readonly #clock: Clock;
  readonly #offs: (() => void)[];

  constructor(queue: TaskQueue, clock: Clock) {
    this.#queue = queue;
    this.#clock = clock;
    this.#rebuild();
    this.#offs = [
      queue.on('changed', ({ task, from }) => {
        if (task.state === 'queued') {
          if (from !== 'queued') this.#add(task.type, task.id, this.#clock.now());
        } else if (from === 'queued') {
          this.#byType.get(task.type)?.delete(task.id);
        }
      }),
      queue.on('replaced', () => this.#rebuild()),
    ];
  }

  #add(type: string, id: string, since: number): void {
    let ids = this.#byType.get(type);
    if (!ids) {
      ids = new Map();
      this.#byType.set(type, ids);
    }
    ids.set(id, since);
  }

  /** From the queue as it is (start, restore): oldest first by their last change. */
  #rebuild(): void {
    this.#byType.clear();
    const queued = [...this.#queue.tasks()].filter((t) => t.state === 'queued');
    queued.sort((a, b) => a.updatedAt - b.updatedAt);
    for (const task of queued) this.#add(task.type, task.id, task.updatedAt);
  }

  /** Depth and oldest age of every type with queued tasks. */
  byType(): Map<string, TypeDepth> {
    const now = this.#clock.now();
    const out = new Map<string, TypeDepth>();
    for (const [type, ids] of this.#byType) {
      if (ids.size === 0) continue;
      const first = ids.values().next().value as number;
      out.set(type, { queued: ids.size, oldestAgeSeconds: Math.max(0, now - first) / 1000 });
    }
    return out;
  }

  close(): void {
    for (const off of this.#offs) off();
  }
}
