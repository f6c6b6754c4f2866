type Place<T> = (item: T, at: number) => void;

/** Moves `items[start]` towards the root while its key is smaller; says whether it moved. */
function siftUp<T>(items: T[], start: number, key: (item: T) => number, place: Place<T>): boolean {
  const item = items[start] as T;
  const k = key(item);
  let i = start;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (key(items[parent] as T) <= k) break;
    place(items[parent] as T, i);
    i = parent;
  }
  place(item, i);
  return i !== start;
}

/** Moves `items[start]` towards the leaves while a child's key is smaller. */
function siftDown<T>(items: T[], start: number, key: (item: T) => number, place: Place<T>): void {
  const item = items[start] as T;
  const k = key(item);
  let i = start;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= items.length) break;
    const right = left + 1;
    const child =
      right < items.length && key(items[right] as T) < key(items[left] as T) ? right : left;
    if (key(items[child] as T) >= k) break;
    place(items[child] as T, i);
    i = child;
  }
  place(item, i);
}

/** A binary min-heap ordered by a numeric key (deadlines, retry times). */
export class MinHeap<T> {
  readonly #key: (item: T) => number;
  #items: T[] = [];
  readonly #place: Place<T> = (item, at) => {
    this.#items[at] = item;
  };

  constructor(key: (item: T) => number) {
    this.#key = key;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    this.#items.push(item);
    siftUp(this.#items, this.#items.length - 1, this.#key, this.#place);
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    siftDown(items, 0, this.#key, this.#place);
    return top;
  }
}

/**
 * A min-heap of items with an identity, where an item can be removed or
 * moved before it comes up: for deadlines that usually stop mattering
 * (a message acked long before its TTL). Left in a plain heap until due,
 * those would pile up: an hour's TTL at 5,000 messages/s is 18 million
 * stale entries.
 */
export class KeyedMinHeap<T> {
  readonly #key: (item: T) => number;
  readonly #idOf: (item: T) => string;
  #items: T[] = [];
  readonly #at = new Map<string, number>();

  constructor(key: (item: T) => number, idOf: (item: T) => string) {
    this.#key = key;
    this.#idOf = idOf;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  has(id: string): boolean {
    return this.#at.has(id);
  }

  /** Adds an item, or replaces the one with the same id. */
  push(item: T): void {
    const id = this.#idOf(item);
    const at = this.#at.get(id);
    if (at !== undefined) {
      this.#items[at] = item;
      this.#fix(at);
      return;
    }
    this.#items.push(item);
    this.#at.set(id, this.#items.length - 1);
    siftUp(this.#items, this.#items.length - 1, this.#key, this.#place);
  }

  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.delete(this.#idOf(top));
    return top;
  }

  /** Removes the item with this id, if there is one. */
  delete(id: string): void {
    const at = this.#at.get(id);
    if (at === undefined) return;
    this.#at.delete(id);
    const last = this.#items.pop() as T;
    if (at === this.#items.length) return;
    this.#items[at] = last;
    this.#at.set(this.#idOf(last), at);
    this.#fix(at);
  }

  #fix(at: number): void {
    if (!siftUp(this.#items, at, this.#key, this.#place))
      siftDown(this.#items, at, this.#key, this.#place);
  }

  readonly #place: Place<T> = (item, at) => {
    this.#items[at] = item;
    this.#at.set(this.#idOf(item), at);
  };
}
