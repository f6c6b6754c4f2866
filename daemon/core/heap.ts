/** A binary min-heap ordered by a numeric key (deadlines, retry times). */
export class MinHeap<T> {
  readonly #key: (item: T) => number;
  #items: T[] = [];

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
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    const k = this.#key(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#key(items[parent] as T) <= k) break;
      items[i] = items[parent] as T;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    const k = this.#key(last);
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && this.#key(items[right] as T) < this.#key(items[left] as T)
          ? right
          : left;
      if (this.#key(items[child] as T) >= k) break;
      items[i] = items[child] as T;
      i = child;
    }
    items[i] = last;
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
    this.#up(this.#items.length - 1);
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
    if (!this.#up(at)) this.#down(at);
  }

  #up(start: number): boolean {
    const items = this.#items;
    const item = items[start] as T;
    const k = this.#key(item);
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#key(items[parent] as T) <= k) break;
      this.#place(items[parent] as T, i);
      i = parent;
    }
    this.#place(item, i);
    return i !== start;
  }

  #down(start: number): void {
    const items = this.#items;
    const item = items[start] as T;
    const k = this.#key(item);
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && this.#key(items[right] as T) < this.#key(items[left] as T)
          ? right
          : left;
      if (this.#key(items[child] as T) >= k) break;
      this.#place(items[child] as T, i);
      i = child;
    }
    this.#place(item, i);
  }

  #place(item: T, at: number): void {
    this.#items[at] = item;
    this.#at.set(this.#idOf(item), at);
  }
}
