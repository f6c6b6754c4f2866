import { Deque } from './deque.ts';
import { MinHeap } from './heap.ts';

/** What a lane holds: an id, a priority level (0 first) and when it may be taken. */
export interface LaneItem {
  id: string;
  priority: number;
  availableAt: number;
}

/**
 * Items ready to be taken, by group (a task type, a message inbox) and
 * priority level (0 first), FIFO within a level; items waiting out a delay
 * sit in a heap until due. Entries are ids; an item that left its state
 * while indexed (cancelled, expired) is skipped lazily when it reaches the
 * front, which keeps removal O(1). The task queue and the messenger's
 * inboxes are both built on this.
 */
export class ReadyLanes<T extends LaneItem> {
  readonly #levels: number;
  readonly #byGroup = new Map<string, Deque<string>[]>();
  readonly #delayed = new MinHeap<{ id: string; at: number }>((e) => e.at);
  /** Ids currently in a deque or the heap: an item is never indexed twice. */
  readonly #indexed = new Set<string>();
  readonly #lookup: (id: string) => T | undefined;
  readonly #isReady: (item: T) => boolean;
  readonly #groupOf: (item: T) => string;

  /**
   * @param lookup the item of an id (undefined once it is gone)
   * @param isReady whether an indexed item may still be taken (e.g. still queued)
   * @param groupOf the lane group an item belongs to
   */
  constructor(
    levels: number,
    lookup: (id: string) => T | undefined,
    isReady: (item: T) => boolean,
    groupOf: (item: T) => string,
  ) {
    this.#levels = levels;
    this.#lookup = lookup;
    this.#isReady = isReady;
    this.#groupOf = groupOf;
  }

  clear(): void {
    this.#byGroup.clear();
    this.#indexed.clear();
    while (this.#delayed.pop());
  }

  /** Adds an item: to its lane if due, else to the delay heap. */
  add(item: T, now: number): void {
    if (this.#indexed.has(item.id)) return;
    this.#indexed.add(item.id);
    if (item.availableAt > now) this.#delayed.push({ id: item.id, at: item.availableAt });
    else this.#lanes(this.#groupOf(item))[item.priority]?.push(item.id);
  }

  /** Puts an item back at the front of its level (a take that did not go through). */
  restore(item: T): void {
    if (this.#indexed.has(item.id)) return;
    this.#indexed.add(item.id);
    this.#lanes(this.#groupOf(item))[item.priority]?.unshift(item.id);
  }

  /**
   * Moves items whose delay has passed into their lanes (telling
   * `onPromoted` about each); returns the next due time.
   */
  promoteDue(now: number, onPromoted?: (item: T) => void): number | undefined {
    for (let next = this.#delayed.peek(); next && next.at <= now; next = this.#delayed.peek()) {
      this.#delayed.pop();
      const item = this.#lookup(next.id);
      if (item && this.#isReady(item)) {
        this.#lanes(this.#groupOf(item))[item.priority]?.push(item.id);
        onPromoted?.(item);
      } else this.#indexed.delete(next.id);
    }
    return this.#delayed.peek()?.at;
  }

  groups(): IterableIterator<string> {
    return this.#byGroup.keys();
  }

  /**
   * Takes the most urgent ready item of a group, or undefined. With
   * `preferLevel`, that level is tried first (a lower level owed its share).
   */
  take(group: string, preferLevel = -1): T | undefined {
    const lanes = this.#byGroup.get(group);
    if (!lanes) return undefined;
    if (preferLevel >= 0) {
      const preferred = this.#shiftValid(lanes[preferLevel]);
      if (preferred) return preferred;
    }
    for (const lane of lanes) {
      const item = this.#shiftValid(lane);
      if (item) return item;
    }
    return undefined;
  }

  /** Takes the oldest ready item of exactly one level (eviction), or undefined. */
  takeLevel(group: string, level: number): T | undefined {
    return this.#shiftValid(this.#byGroup.get(group)?.[level]);
  }

  #shiftValid(lane: Deque<string> | undefined): T | undefined {
    if (!lane) return undefined;
    for (let id = lane.shift(); id !== undefined; id = lane.shift()) {
      this.#indexed.delete(id);
      const item = this.#lookup(id);
      if (item && this.#isReady(item)) return item;
    }
    return undefined;
  }

  /** Ready entries of a group (may include items not yet skipped). */
  size(group: string): number {
    let n = 0;
    for (const lane of this.#byGroup.get(group) ?? []) n += lane.size;
    return n;
  }

  /** Entries of one level of a group (may include items not yet skipped). */
  levelSize(group: string, level: number): number {
    return this.#byGroup.get(group)?.[level]?.size ?? 0;
  }

  /** The most urgent level with entries, or -1. */
  firstLevel(group: string): number {
    const lanes = this.#byGroup.get(group);
    if (!lanes) return -1;
    for (let level = 0; level < lanes.length; level++)
      if ((lanes[level]?.size ?? 0) > 0) return level;
    return -1;
  }

  #lanes(group: string): Deque<string>[] {
    let lanes = this.#byGroup.get(group);
    if (!lanes) {
      lanes = Array.from({ length: this.#levels }, () => new Deque<string>());
      this.#byGroup.set(group, lanes);
    }
    return lanes;
  }
}
