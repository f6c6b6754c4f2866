import test from 'ava';
import { ReadyIndex } from '../../daemon/tasks/ready-index.ts';
import type { Task } from '../../daemon/tasks/task.ts';

const NOW = 10_000;

function setup() {
  const tasks = new Map<string, Task>();
  const index = new ReadyIndex((id) => tasks.get(id));
  const make = (id: string, over: Partial<Task> = {}): Task => {
    const task: Task = {
      id,
      type: 'echo',
      payload: null,
      priority: 5,
      state: 'queued',
      attempts: 0,
      maxAttempts: 3,
      timeoutMs: 1_000,
      createdAt: 0,
      updatedAt: 0,
      availableAt: 0,
      history: [],
      ...over,
    };
    tasks.set(id, task);
    return task;
  };
  /** Takes every ready task of a type, in order. */
  const drain = (type = 'echo'): string[] => {
    const ids: string[] = [];
    for (let task = index.take(type); task; task = index.take(type)) ids.push(task.id);
    return ids;
  };
  return { tasks, index, make, drain };
}

test('priority first (0 most urgent), FIFO within a priority', (t) => {
  const { index, make, drain } = setup();
  const order: [string, number][] = [
    ['a5', 5],
    ['b0', 0],
    ['c5', 5],
    ['d9', 9],
    ['e0', 0],
    ['f5', 5],
  ];
  for (const [id, priority] of order) index.add(make(id, { priority }), NOW);
  t.is(index.size('echo'), 6);
  t.deepEqual(drain(), ['b0', 'e0', 'a5', 'c5', 'f5', 'd9']);
  t.is(index.size('echo'), 0);
  t.is(index.take('echo'), undefined);
});

test('types are separate queues', (t) => {
  const { index, make, drain } = setup();
  index.add(make('e1'), NOW);
  index.add(make('s1', { type: 'stats', priority: 0 }), NOW);
  index.add(make('e2'), NOW);
  t.deepEqual([...index.types()].sort(), ['echo', 'stats']);
  t.is(index.take('other'), undefined);
  t.deepEqual(drain('stats'), ['s1']);
  t.deepEqual(drain('echo'), ['e1', 'e2']);
});

test('a task is indexed once, and can be indexed again after it was taken', (t) => {
  const { index, make, drain } = setup();
  const a = make('a');
  index.add(a, NOW);
  index.add(a, NOW);
  index.restore(a);
  t.is(index.size('echo'), 1);
  t.deepEqual(drain(), ['a']);
  index.add(a, NOW); // requeued after a failed attempt
  t.deepEqual(drain(), ['a']);
});

test('delayed tasks wait in the heap and are promoted when due, earliest first', (t) => {
  const { index, make, drain } = setup();
  index.add(make('late', { availableAt: NOW + 300 }), NOW);
  index.add(make('soon', { availableAt: NOW + 100 }), NOW);
  index.add(make('now', { availableAt: NOW }), NOW);
  t.is(index.size('echo'), 1, 'only the due task is ready');
  t.is(index.promoteDue(NOW + 99), NOW + 100, 'returns the next due time');
  t.deepEqual(drain(), ['now']);

  t.is(index.promoteDue(NOW + 100), NOW + 300);
  index.add(make('fresh'), NOW + 100);
  t.deepEqual(drain(), ['soon', 'fresh'], 'a promoted task joins the back of its priority');

  t.is(index.promoteDue(NOW + 1_000), undefined, 'nothing left to wait for');
  t.deepEqual(drain(), ['late']);
});

test('a promoted task still honours priority', (t) => {
  const { index, make, drain } = setup();
  index.add(make('p9', { priority: 9 }), NOW);
  index.add(make('retry0', { priority: 0, availableAt: NOW + 50 }), NOW);
  index.promoteDue(NOW + 50);
  t.deepEqual(drain(), ['retry0', 'p9']);
});

test('cancelled tasks are skipped when they reach the front, ready or delayed', (t) => {
  const { index, make, drain, tasks } = setup();
  index.add(make('a'), NOW);
  index.add(make('b'), NOW);
  index.add(make('c'), NOW);
  index.add(make('later', { availableAt: NOW + 10 }), NOW);
  const cancel = (id: string) => {
    const task = tasks.get(id);
    if (task) task.state = 'cancelled';
  };
  cancel('a');
  cancel('later');
  tasks.delete('c'); // pruned while still indexed
  t.is(index.size('echo'), 3, 'skipped lazily, so still counted');
  t.deepEqual(drain(), ['b']);
  t.is(index.size('echo'), 0);
  t.is(index.promoteDue(NOW + 10), undefined);
  t.deepEqual(drain(), [], 'the cancelled delayed task never becomes ready');

  // Its id is no longer indexed: a task with that id may be indexed anew.
  const again = make('later', { availableAt: NOW });
  index.add(again, NOW);
  t.deepEqual(drain(), ['later']);
});

test('restore puts a task back at the front of its priority', (t) => {
  const { index, make, drain } = setup();
  index.add(make('a'), NOW);
  index.add(make('b'), NOW);
  index.add(make('urgent', { priority: 1 }), NOW);
  const first = index.take('echo');
  t.is(first?.id, 'urgent');
  const second = index.take('echo');
  t.is(second?.id, 'a');
  // The dispatch of 'a' did not go through: it goes back ahead of 'b'.
  if (second) index.restore(second);
  t.deepEqual(drain(), ['a', 'b']);
});

test('clear forgets everything, delayed tasks included', (t) => {
  const { index, make, drain } = setup();
  index.add(make('a'), NOW);
  index.add(make('d', { availableAt: NOW + 5 }), NOW);
  index.clear();
  t.is(index.promoteDue(NOW + 100), undefined);
  t.deepEqual(drain(), []);
  index.add(make('a'), NOW);
  t.deepEqual(drain(), ['a'], 'a cleared id can be added again');
});
