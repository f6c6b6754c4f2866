import { Deque } from '../core/deque.ts';
import { MinHeap } from '../core/heap.ts';
import type { Task } from './task.ts';

export const PRIORITY_LEVELS = 10;

/**
 * Queued tasks ready to run, by type and priority (0 first), FIFO within a
 * priority; tasks waiting out a retry delay sit in a heap until due.
 * Entries are task ids; a task cancelled while indexed is skipped lazily
 * when it reaches the front, which keeps cancel O(1).
 */
export class ReadyIndex {
  readonly #byType = new Map<string, Deque<string>[]>();
  readonly #delayed = new MinHeap<{ id: string; at: number }>((e) => e.at);
  /** Ids currently in a deque or the heap: a task is never indexed twice. */
  readonly #indexed = new Set<string>();
  readonly #tasks: (id: string) => Task | undefined;

  constructor(tasks: (id: string) => Task | undefined) {
    this.#tasks = tasks;
  }

  clear(): void {
    this.#byType.clear();
    this.#indexed.clear();
    while (this.#delayed.pop());
  }

  /** Adds a queued task: to its deque if due, else to the delay heap. */
  add(task: Task, now: number): void {
    if (this.#indexed.has(task.id)) return;
    this.#indexed.add(task.id);
    if (task.availableAt > now) this.#delayed.push({ id: task.id, at: task.availableAt });
    else this.#deques(task.type)[task.priority]?.push(task.id);
  }

  /** Puts a task back at the front of its priority (a dispatch that did not go through). */
  restore(task: Task): void {
    if (this.#indexed.has(task.id)) return;
    this.#indexed.add(task.id);
    this.#deques(task.type)[task.priority]?.unshift(task.id);
  }

  /** Moves tasks whose delay has passed into their deques; returns the next due time. */
  promoteDue(now: number): number | undefined {
    for (let next = this.#delayed.peek(); next && next.at <= now; next = this.#delayed.peek()) {
      this.#delayed.pop();
      const task = this.#tasks(next.id);
      if (task?.state === 'queued') this.#deques(task.type)[task.priority]?.push(task.id);
      else this.#indexed.delete(next.id);
    }
    return this.#delayed.peek()?.at;
  }

  types(): IterableIterator<string> {
    return this.#byType.keys();
  }

  /** Takes the most urgent queued task of a type, or undefined. */
  take(type: string): Task | undefined {
    const deques = this.#byType.get(type);
    if (!deques) return undefined;
    for (const deque of deques) {
      for (let id = deque.shift(); id !== undefined; id = deque.shift()) {
        this.#indexed.delete(id);
        const task = this.#tasks(id);
        if (task?.state === 'queued') return task;
      }
    }
    return undefined;
  }

  /** Ready entries of a type (may include cancelled tasks not yet skipped). */
  size(type: string): number {
    let n = 0;
    for (const deque of this.#byType.get(type) ?? []) n += deque.size;
    return n;
  }

  #deques(type: string): Deque<string>[] {
    let deques = this.#byType.get(type);
    if (!deques) {
      deques = Array.from({ length: PRIORITY_LEVELS }, () => new Deque<string>());
      this.#byType.set(type, deques);
    }
    return deques;
  }
}
