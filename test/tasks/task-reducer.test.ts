import test from 'ava';
import {
  applyTaskRecord,
  type QueueState,
  type Task,
  type TaskRecord,
  taskReducer,
} from '../../daemon/tasks/task.ts';

const T0 = 1_000_000;

function submit(
  id: string,
  extra: { key?: string; priority?: number; type?: string } = {},
): TaskRecord {
  return {
    t: 'submit',
    task: {
      id,
      type: extra.type ?? 'echo',
      payload: { id },
      priority: extra.priority ?? 5,
      ...(extra.key === undefined ? {} : { key: extra.key }),
      maxAttempts: 3,
      timeoutMs: 1_000,
      createdAt: T0,
      submittedBy: 'tester',
    },
  };
}

/** Applies records with consecutive seqs from `firstSeq`; returns what each returned. */
function applyAll(state: QueueState, records: TaskRecord[], firstSeq = 1): (Task | undefined)[] {
  return records.map((r, i) => applyTaskRecord(state, r, firstSeq + i));
}

function fresh(): QueueState {
  return taskReducer.empty();
}

/** A deep copy of the state, to show that a rejected record changed nothing. */
function copy(state: QueueState): unknown {
  return {
    tasks: structuredClone([...state.tasks.entries()]),
    keys: [...state.keys.entries()],
  };
}

function get(state: QueueState, id: string): Task {
  const task = state.tasks.get(id);
  if (!task) throw new Error(`no task ${id}`);
  return task;
}

test('submit creates a queued task; a duplicate id is ignored', (t) => {
  const state = fresh();
  const created = applyTaskRecord(state, submit('a'), 1);
  t.deepEqual(created, {
    id: 'a',
    type: 'echo',
    payload: { id: 'a' },
    priority: 5,
    maxAttempts: 3,
    timeoutMs: 1_000,
    createdAt: T0,
    submittedBy: 'tester',
    state: 'queued',
    attempts: 0,
    updatedAt: T0,
    availableAt: T0,
    history: [],
  });
  t.false('key' in get(state, 'a'), 'no key property without a key');
  const before = copy(state);
  t.is(applyTaskRecord(state, { ...submit('a', { priority: 0 }) }, 2), undefined);
  t.deepEqual(copy(state), before);
});

test('lease: queued → running, the record seq is the fencing token', (t) => {
  const state = fresh();
  applyTaskRecord(state, submit('a'), 1);
  const leased = applyTaskRecord(
    state,
    { t: 'lease', id: 'a', bot: 'echo-1', at: T0 + 5, expiresAt: T0 + 1_505 },
    7,
  );
  t.is(leased?.state, 'running');
  t.is(leased?.attempts, 1);
  t.deepEqual(leased?.lease, { bot: 'echo-1', token: 7, expiresAt: T0 + 1_505 });
  t.deepEqual(leased?.history, [{ bot: 'echo-1', token: 7, startedAt: T0 + 5 }]);
  t.is(leased?.updatedAt, T0 + 5);

  // A second lease while running, or a lease of an unknown task, is a no-op.
  const before = copy(state);
  t.is(
    applyTaskRecord(state, { t: 'lease', id: 'a', bot: 'echo-2', at: T0 + 6, expiresAt: 0 }, 8),
    undefined,
  );
  t.is(
    applyTaskRecord(state, { t: 'lease', id: 'zz', bot: 'echo-2', at: T0 + 6, expiresAt: 0 }, 9),
    undefined,
  );
  t.deepEqual(copy(state), before);
});

test('done with the current token finishes the task once', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('a'),
    { t: 'lease', id: 'a', bot: 'b1', at: T0 + 1, expiresAt: T0 + 100 },
  ]);
  const done = applyTaskRecord(
    state,
    { t: 'done', id: 'a', token: 2, at: T0 + 9, result: { ok: 1 } },
    3,
  );
  t.is(done?.state, 'done');
  t.deepEqual(done?.result, { ok: 1 });
  t.is(done?.finishedAt, T0 + 9);
  t.is(done?.lease, undefined);
  t.deepEqual(done?.history, [
    { bot: 'b1', token: 2, startedAt: T0 + 1, endedAt: T0 + 9, outcome: 'done' },
  ]);

  // A duplicate result (at-least-once delivery) cannot change the final result.
  const before = copy(state);
  t.is(
    applyTaskRecord(state, { t: 'done', id: 'a', token: 2, at: T0 + 10, result: 'again' }, 4),
    undefined,
  );
  t.deepEqual(copy(state), before);
});

test('a result for an old token is rejected after the task was re-leased', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('a'),
    { t: 'lease', id: 'a', bot: 'b1', at: T0 + 1, expiresAt: T0 + 100 }, // token 2
    {
      t: 'fail',
      id: 'a',
      token: 2,
      at: T0 + 100,
      outcome: 'timeout',
      error: { reason: 'timeout', message: 'lease expired' },
      retryAt: T0 + 300,
    },
    { t: 'lease', id: 'a', bot: 'b2', at: T0 + 300, expiresAt: T0 + 400 }, // token 4
  ]);
  const task = get(state, 'a');
  t.is(task.state, 'running');
  t.is(task.attempts, 2);
  const before = copy(state);
  t.is(
    applyTaskRecord(state, { t: 'done', id: 'a', token: 2, at: T0 + 301, result: 'late' }, 5),
    undefined,
  );
  t.is(
    applyTaskRecord(
      state,
      {
        t: 'fail',
        id: 'a',
        token: 2,
        at: T0 + 301,
        outcome: 'crash',
        error: { reason: 'crash', message: 'x' },
      },
      6,
    ),
    undefined,
  );
  t.is(
    applyTaskRecord(state, { t: 'requeue', id: 'a', token: 2, at: T0 + 301, reason: 'drain' }, 7),
    undefined,
  );
  t.deepEqual(copy(state), before, 'stale records change nothing');

  const done = applyTaskRecord(
    state,
    { t: 'done', id: 'a', token: 4, at: T0 + 350, result: 'fresh' },
    8,
  );
  t.is(done?.result, 'fresh');
  t.deepEqual(
    done?.history.map((a) => [a.token, a.outcome]),
    [
      [2, 'timeout'],
      [4, 'done'],
    ],
  );
});

test('fail: retry puts the task back with its delay; final marks it failed or dead', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('a'),
    submit('b'),
    { t: 'lease', id: 'a', bot: 'b1', at: T0, expiresAt: T0 + 1 },
  ]);
  const retried = applyTaskRecord(
    state,
    {
      t: 'fail',
      id: 'a',
      token: 3,
      at: T0 + 10,
      outcome: 'error',
      error: { reason: 'bot_error', message: 'boom' },
      retryAt: T0 + 210,
    },
    4,
  );
  t.is(retried?.state, 'queued');
  t.is(retried?.availableAt, T0 + 210);
  t.is(retried?.attempts, 1, 'a failed attempt counts');
  t.deepEqual(retried?.error, { reason: 'bot_error', message: 'boom' });
  t.is(retried?.history[0]?.error, 'boom');
  t.is(retried?.finishedAt, undefined);

  applyTaskRecord(state, { t: 'lease', id: 'b', bot: 'b1', at: T0, expiresAt: T0 + 1 }, 5);
  const dead = applyTaskRecord(
    state,
    {
      t: 'fail',
      id: 'b',
      token: 5,
      at: T0 + 20,
      outcome: 'timeout',
      error: { reason: 'timeout', message: 'no answer' },
      final: 'dead',
    },
    6,
  );
  t.is(dead?.state, 'dead');
  t.is(dead?.finishedAt, T0 + 20);
  t.is(dead?.lease, undefined);
  t.deepEqual(dead?.error, { reason: 'timeout', message: 'no answer' });
});

test('requeue releases the lease without counting the attempt', (t) => {
  const state = fresh();
  applyAll(state, [submit('a'), { t: 'lease', id: 'a', bot: 'b1', at: T0, expiresAt: T0 + 1 }]);
  t.is(get(state, 'a').attempts, 1);
  const requeued = applyTaskRecord(
    state,
    { t: 'requeue', id: 'a', token: 2, at: T0 + 50, reason: 'drain' },
    3,
  );
  t.is(requeued?.state, 'queued');
  t.is(requeued?.attempts, 0);
  t.is(requeued?.availableAt, T0 + 50);
  t.is(requeued?.lease, undefined);
  t.deepEqual(requeued?.history[0], {
    bot: 'b1',
    token: 2,
    startedAt: T0,
    endedAt: T0 + 50,
    outcome: 'requeued',
    error: 'drain',
  });
  // Leased again: attempts counts from where it was.
  applyTaskRecord(state, { t: 'lease', id: 'a', bot: 'b2', at: T0 + 60, expiresAt: T0 + 70 }, 4);
  t.is(get(state, 'a').attempts, 1);
});

test('cancel: queued or running become cancelled; a final task is left alone; a later lease is rejected', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('q'),
    submit('r'),
    submit('d'),
    { t: 'lease', id: 'r', bot: 'b1', at: T0, expiresAt: T0 + 100 }, // token 4
    { t: 'lease', id: 'd', bot: 'b1', at: T0, expiresAt: T0 + 100 }, // token 5
    { t: 'done', id: 'd', token: 5, at: T0 + 1, result: 1 },
  ]);
  const q = applyTaskRecord(state, { t: 'cancel', id: 'q', at: T0 + 2, reason: 'by operator' }, 7);
  t.is(q?.state, 'cancelled');
  t.deepEqual(q?.error, { reason: 'cancelled', message: 'by operator' });
  t.is(q?.finishedAt, T0 + 2);

  const r = applyTaskRecord(state, { t: 'cancel', id: 'r', at: T0 + 3, reason: 'stop' }, 8);
  t.is(r?.state, 'cancelled');
  t.is(r?.lease, undefined);
  t.deepEqual(r?.history[0], {
    bot: 'b1',
    token: 4,
    startedAt: T0,
    endedAt: T0 + 3,
    outcome: 'requeued',
    error: 'cancelled',
  });

  const before = copy(state);
  t.is(applyTaskRecord(state, { t: 'cancel', id: 'd', at: T0 + 4, reason: 'late' }, 9), undefined);
  t.is(
    applyTaskRecord(state, { t: 'cancel', id: 'q', at: T0 + 4, reason: 'twice' }, 10),
    undefined,
  );
  t.is(applyTaskRecord(state, { t: 'cancel', id: 'nope', at: T0 + 4, reason: 'x' }, 11), undefined);
  // The race a crash replays: a lease written for a task cancelled just before.
  t.is(
    applyTaskRecord(state, { t: 'lease', id: 'q', bot: 'b2', at: T0 + 5, expiresAt: T0 + 9 }, 12),
    undefined,
  );
  // The bot of the cancelled lease answers anyway.
  t.is(
    applyTaskRecord(state, { t: 'done', id: 'r', token: 4, at: T0 + 6, result: 'late' }, 13),
    undefined,
  );
  t.deepEqual(copy(state), before);
  t.is(get(state, 'd').result, 1);
});

test('prune removes only final tasks and keeps the key map consistent', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('done1', { key: 'k-done' }),
    submit('queued1', { key: 'k-queued' }),
    submit('run1', { key: 'k-run' }),
    submit('cancel1'),
    { t: 'lease', id: 'done1', bot: 'b', at: T0, expiresAt: T0 + 9 }, // token 5
    { t: 'done', id: 'done1', token: 5, at: T0 + 1, result: null },
    { t: 'lease', id: 'run1', bot: 'b', at: T0, expiresAt: T0 + 9 },
    { t: 'cancel', id: 'cancel1', at: T0 + 1, reason: 'x' },
  ]);
  t.deepEqual(
    [...state.keys],
    [
      ['k-done', 'done1'],
      ['k-queued', 'queued1'],
      ['k-run', 'run1'],
    ],
  );
  t.is(
    applyTaskRecord(
      state,
      { t: 'prune', ids: ['done1', 'queued1', 'run1', 'cancel1', 'unknown'] },
      9,
    ),
    undefined,
  );
  t.deepEqual([...state.tasks.keys()].sort(), ['queued1', 'run1']);
  t.deepEqual(
    [...state.keys],
    [
      ['k-queued', 'queued1'],
      ['k-run', 'run1'],
    ],
  );
});

test('pruning an old task does not drop a key that now names a newer task', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('old', { key: 'k' }),
    { t: 'cancel', id: 'old', at: T0, reason: 'x' },
    submit('new', { key: 'k' }),
  ]);
  t.is(state.keys.get('k'), 'new');
  applyTaskRecord(state, { t: 'prune', ids: ['old'] }, 4);
  t.is(state.keys.get('k'), 'new');
  t.false(state.tasks.has('old'));
});

test('a snapshot round trip (through JSON) restores tasks and the key map', (t) => {
  const state = fresh();
  applyAll(state, [
    submit('a', { key: 'ka' }),
    submit('b'),
    { t: 'lease', id: 'a', bot: 'b1', at: T0, expiresAt: T0 + 9 },
    { t: 'done', id: 'a', token: 3, at: T0 + 1, result: { n: 1 } },
  ]);
  const restored = taskReducer.fromSnapshot(
    JSON.parse(JSON.stringify(taskReducer.toSnapshot(state))),
  );
  t.deepEqual([...restored.tasks.entries()], [...state.tasks.entries()]);
  t.deepEqual([...restored.keys.entries()], [['ka', 'a']]);
  t.deepEqual([...taskReducer.fromSnapshot(null).tasks], []);

  // The reducer's apply folds the same way as applyTaskRecord.
  const viaReducer = taskReducer.empty();
  taskReducer.apply(viaReducer, submit('z'), 1);
  t.is(viaReducer.tasks.get('z')?.state, 'queued');
});
