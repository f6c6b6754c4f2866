import test from 'ava';
import { Deque } from '../../daemon/core/deque.ts';
import { KeyedMinHeap, MinHeap } from '../../daemon/core/heap.ts';
import { seeded as random } from '../helpers/random.ts';

const SEEDS = Array.from({ length: 25 }, (_, i) => 1_000 + i * 7_919);
const OPS = 3_000;

test('Deque behaves like an array under random push/unshift/shift/peek', (t) => {
  for (const seed of SEEDS) {
    const rand = random(seed);
    const deque = new Deque<number>();
    const model: number[] = [];
    // Phases that favour growth, then draining, so the ring wraps and grows
    // from many head positions.
    for (let op = 0; op < OPS; op++) {
      const growing = Math.floor(op / 500) % 2 === 0;
      const r = rand();
      const value = Math.floor(rand() * 1e6);
      if (r < (growing ? 0.45 : 0.2)) {
        deque.push(value);
        model.push(value);
      } else if (r < (growing ? 0.7 : 0.35)) {
        deque.unshift(value);
        model.unshift(value);
      } else if (r < 0.95) {
        const got = deque.shift();
        const want = model.shift();
        if (got !== want) {
          t.fail(`seed ${seed} op ${op}: shift gave ${got}, expected ${want}`);
          return;
        }
      } else if (deque.peek() !== model[0]) {
        t.fail(`seed ${seed} op ${op}: peek gave ${deque.peek()}, expected ${model[0]}`);
        return;
      }
      if (deque.size !== model.length) {
        t.fail(`seed ${seed} op ${op}: size ${deque.size}, expected ${model.length}`);
        return;
      }
      if (op % 97 === 0 && [...deque].join() !== model.join()) {
        t.fail(`seed ${seed} op ${op}: iteration order differs`);
        return;
      }
    }
    t.deepEqual([...deque], model, `seed ${seed}: final contents`);
  }
});

test('Deque edge cases: empty, and exact growth boundaries', (t) => {
  const deque = new Deque<string>();
  t.is(deque.shift(), undefined);
  t.is(deque.peek(), undefined);
  t.is(deque.size, 0);
  t.deepEqual([...deque], []);
  // Fill to exactly the initial capacity from the front, then grow by one.
  for (let i = 0; i < 16; i++) deque.unshift(`u${i}`);
  deque.push('p');
  deque.unshift('first');
  t.is(deque.size, 18);
  t.is(deque.peek(), 'first');
  t.deepEqual([...deque], ['first', ...Array.from({ length: 16 }, (_, i) => `u${15 - i}`), 'p']);
  // An item that may be falsy is still returned, not mistaken for "empty".
  const zeros = new Deque<number>();
  zeros.push(0);
  t.is(zeros.shift(), 0);
  t.is(zeros.size, 0);
});

test('MinHeap pops in key order like a sorted array, with duplicates and interleaving', (t) => {
  for (const seed of SEEDS) {
    const rand = random(seed);
    const heap = new MinHeap<{ key: number; id: number }>((item) => item.key);
    const model: { key: number; id: number }[] = [];
    // Few distinct keys, so ties are common.
    const keyRange = 1 + Math.floor(rand() * 50);
    for (let op = 0; op < OPS; op++) {
      if (rand() < 0.55) {
        const item = { key: Math.floor(rand() * keyRange) - 10, id: op };
        heap.push(item);
        model.push(item);
      } else {
        const minKey = model.length === 0 ? undefined : Math.min(...model.map((m) => m.key));
        const peeked = heap.peek();
        const popped = heap.pop();
        if (popped?.key !== minKey || peeked !== popped) {
          t.fail(`seed ${seed} op ${op}: popped key ${popped?.key}, expected ${minKey}`);
          return;
        }
        if (popped) {
          // Remove exactly the popped item: it must have been in the heap.
          const at = model.indexOf(popped);
          if (at === -1) {
            t.fail(`seed ${seed} op ${op}: popped an item twice or one never pushed`);
            return;
          }
          model.splice(at, 1);
        }
      }
      if (heap.size !== model.length) {
        t.fail(`seed ${seed} op ${op}: size ${heap.size}, expected ${model.length}`);
        return;
      }
    }
    const rest: number[] = [];
    for (let item = heap.pop(); item; item = heap.pop()) rest.push(item.key);
    t.deepEqual(
      rest,
      model.map((m) => m.key).sort((a, b) => a - b),
      `seed ${seed}: drains sorted`,
    );
    t.is(heap.size, 0);
    t.is(heap.peek(), undefined);
  }
});

test('MinHeap with a single element and with keys that are equal', (t) => {
  const heap = new MinHeap<number>((n) => n);
  t.is(heap.pop(), undefined);
  heap.push(5);
  t.is(heap.peek(), 5);
  t.is(heap.pop(), 5);
  t.is(heap.size, 0);
  for (let i = 0; i < 10; i++) heap.push(3);
  heap.push(-1);
  const out: number[] = [];
  while (heap.size > 0) out.push(heap.pop() as number);
  t.deepEqual(out, [-1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
});

test('KeyedMinHeap: removals and moves by id keep the order (random operations against a model)', (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const next = random(seed);
    const heap = new KeyedMinHeap<{ id: string; at: number }>(
      (e) => e.at,
      (e) => e.id,
    );
    const model = new Map<string, number>();
    for (let op = 0; op < 2_000; op++) {
      const id = `m${Math.floor(next() * 200)}`;
      const roll = next();
      if (roll < 0.5) {
        const at = Math.floor(next() * 1_000);
        heap.push({ id, at }); // a new item, or a move of the one with this id
        model.set(id, at);
      } else if (roll < 0.8) {
        heap.delete(id);
        model.delete(id);
      } else {
        const top = heap.pop();
        const min = Math.min(...model.values());
        t.is(top?.at, model.size === 0 ? undefined : min, `seed ${seed} op ${op}`);
        if (top) model.delete(top.id);
      }
      t.is(heap.size, model.size);
    }
    const rest: number[] = [];
    for (let item = heap.pop(); item; item = heap.pop()) rest.push(item.at);
    t.deepEqual(
      rest,
      [...model.values()].sort((a, b) => a - b),
    );
    t.false(heap.has('m1'));
  }
});
