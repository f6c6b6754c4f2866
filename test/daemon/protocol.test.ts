/**
 * Control-protocol robustness against a real hived: malformed, oversized and
 * fragmented frames, bad requests, unknown commands and wrong arguments all
 * get coded error responses; the daemon stays up and other clients keep
 * working; many clients at once all get answers.
 */
import { once } from 'node:events';
import { createConnection } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { Connection } from '../../client/connection.ts';
import type { ErrorCode } from '../../protocol/errors.ts';
import { type DaemonHandle, echoBot, startDaemon, waitFor } from '../helpers/daemon.ts';
import { pidOf } from '../helpers/process.ts';
import { RawClient, type WireFrame } from '../helpers/raw-socket.ts';

// Above the `commands` answer (every part's commands), well below the default.
const MAX_FRAME = 8192;

function config(): Record<string, unknown> {
  return {
    ipc: { maxFrameBytes: MAX_FRAME, frameTimeoutMs: 500 },
    bots: { echo: echoBot() },
  };
}

function assertError(
  t: ExecutionContext,
  frame: WireFrame,
  code: ErrorCode,
  id: string | number | null,
  what: string,
): void {
  t.is(frame.type, 'response', `${what}: frame type`);
  t.is(frame.data.ok, false, `${what}: ok`);
  t.is(frame.data.error?.code, code, `${what}: code (${frame.data.error?.message})`);
  t.true(
    typeof frame.data.error?.message === 'string' && frame.data.error.message.length > 0,
    `${what}: message`,
  );
  t.is(frame.data.id ?? null, id, `${what}: id`);
}

async function assertBystanderWorks(
  t: ExecutionContext,
  daemon: DaemonHandle,
  bystander: Connection,
  what: string,
): Promise<void> {
  const answer = (await bystander.request('status')) as { daemon: { pid: number } };
  t.is(answer.daemon.pid, pidOf(daemon), `bystander answered after ${what}`);
  t.is(daemon.process.exitCode, null, `hived still running after ${what}`);
}

test('malformed frames, bad requests, unknown commands and wrong arguments get coded errors', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  const bystander = await daemon.connect();
  t.teardown(() => bystander.close());
  const raw = await RawClient.open(daemon.socket);
  t.teardown(() => raw.destroy());

  const cases: { what: string; send: string; code: ErrorCode; id: string | number | null }[] = [
    { what: 'not JSON', send: 'this is not json\f', code: 'HIVE_IPC_MALFORMED_FRAME', id: null },
    {
      what: 'truncated JSON',
      send: '{"type":"request","data":{\f',
      code: 'HIVE_IPC_MALFORMED_FRAME',
      id: null,
    },
    { what: 'JSON array', send: '[1,2,3]\f', code: 'HIVE_IPC_MALFORMED_FRAME', id: null },
    { what: 'JSON string', send: '"request"\f', code: 'HIVE_IPC_MALFORMED_FRAME', id: null },
    { what: 'JSON null', send: 'null\f', code: 'HIVE_IPC_MALFORMED_FRAME', id: null },
    { what: 'empty frame', send: '\f', code: 'HIVE_IPC_MALFORMED_FRAME', id: null },
    {
      what: 'wrong type',
      send: '{"type":"bogus","data":{"id":7,"cmd":"status"}}\f',
      code: 'HIVE_IPC_MALFORMED_FRAME',
      id: 7,
    },
    {
      what: 'type a response',
      send: '{"type":"response","data":{"id":"r1","ok":true}}\f',
      code: 'HIVE_IPC_MALFORMED_FRAME',
      id: 'r1',
    },
    {
      what: 'reserved node-ipc event name',
      send: '{"type":"connect","data":{"id":8}}\f',
      code: 'HIVE_IPC_MALFORMED_FRAME',
      id: 8,
    },
    {
      what: 'prototype key as type',
      send: '{"type":"__proto__","data":{"id":9}}\f',
      code: 'HIVE_IPC_MALFORMED_FRAME',
      id: 9,
    },
    {
      what: 'missing type',
      send: '{"data":{"id":10,"cmd":"status"}}\f',
      code: 'HIVE_IPC_MALFORMED_FRAME',
      id: 10,
    },
    {
      what: 'missing id',
      send: '{"type":"request","data":{"cmd":"status"}}\f',
      code: 'HIVE_IPC_BAD_REQUEST',
      id: null,
    },
    {
      what: 'missing cmd',
      send: '{"type":"request","data":{"id":11}}\f',
      code: 'HIVE_IPC_BAD_REQUEST',
      id: 11,
    },
    {
      what: 'cmd not a string',
      send: '{"type":"request","data":{"id":12,"cmd":42}}\f',
      code: 'HIVE_IPC_BAD_REQUEST',
      id: 12,
    },
    {
      what: 'id an object',
      send: '{"type":"request","data":{"id":{"x":1},"cmd":"status"}}\f',
      code: 'HIVE_IPC_BAD_REQUEST',
      id: null,
    },
    {
      what: 'data null',
      send: '{"type":"request","data":null}\f',
      code: 'HIVE_IPC_BAD_REQUEST',
      id: null,
    },
    {
      what: 'no data',
      send: '{"type":"request"}\f',
      code: 'HIVE_IPC_BAD_REQUEST',
      id: null,
    },
  ];
  for (const c of cases) {
    await raw.write(c.send);
    assertError(t, await raw.next(), c.code, c.id, c.what);
    await assertBystanderWorks(t, daemon, bystander, c.what);
  }

  const commandCases: {
    what: string;
    cmd: string;
    args: unknown;
    code: ErrorCode;
  }[] = [
    { what: 'unknown command', cmd: 'no.such.command', args: {}, code: 'HIVE_IPC_UNKNOWN_COMMAND' },
    {
      what: 'prototype name as command',
      cmd: 'constructor',
      args: {},
      code: 'HIVE_IPC_UNKNOWN_COMMAND',
    },
    { what: 'unknown argument', cmd: 'status', args: { verbose: true }, code: 'HIVE_IPC_BAD_ARGS' },
    { what: 'args not an object', cmd: 'status', args: 'all', code: 'HIVE_IPC_BAD_ARGS' },
    { what: 'args an array', cmd: 'task.ls', args: [1], code: 'HIVE_IPC_BAD_ARGS' },
    { what: 'missing argument', cmd: 'task.get', args: {}, code: 'HIVE_IPC_BAD_ARGS' },
    {
      what: 'wrong argument type',
      cmd: 'task.submit',
      args: { type: 5 },
      code: 'HIVE_IPC_BAD_ARGS',
    },
    {
      what: 'argument out of range',
      cmd: 'task.submit',
      args: { type: 'echo', priority: 99 },
      code: 'HIVE_IPC_BAD_ARGS',
    },
    {
      what: 'bad enum value',
      cmd: 'task.ls',
      args: { state: 'sleeping' },
      code: 'HIVE_IPC_BAD_ARGS',
    },
    {
      what: 'unknown task type',
      cmd: 'task.submit',
      args: { type: 'no-such-type' },
      code: 'HIVE_TASK_UNKNOWN_TYPE',
    },
    { what: 'unknown task', cmd: 'task.get', args: { id: 'tnope' }, code: 'HIVE_TASK_NOT_FOUND' },
    {
      what: 'unknown bot',
      cmd: 'bots.restart',
      args: { name: 'nobody-0' },
      code: 'HIVE_BOT_NOT_FOUND',
    },
    {
      what: 'unknown bot kind',
      cmd: 'bots.scale',
      args: { kind: 'nokind', instances: 1 },
      code: 'HIVE_BOT_KIND_NOT_FOUND',
    },
  ];
  let id = 100;
  for (const c of commandCases) {
    id += 1;
    await raw.request(id, c.cmd, c.args);
    assertError(t, await raw.next(), c.code, id, c.what);
    await assertBystanderWorks(t, daemon, bystander, c.what);
  }

  // A string id round-trips too, and the abused connection still serves real work.
  await raw.request('last', 'status', {});
  const ok = await raw.next();
  t.is(ok.type, 'response');
  t.is(ok.data.id, 'last');
  t.is(ok.data.ok, true);
  t.is((ok.data.result as { daemon: { pid: number } }).daemon.pid, pidOf(daemon));
  t.false(raw.isClosed);
});

test('several frames in one write, good and bad, each get their own answer', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  const raw = await RawClient.open(daemon.socket);
  t.teardown(() => raw.destroy());
  await raw.write(
    [
      'garbage',
      '{"type":"request","data":{"id":1,"cmd":"status"}}',
      '[]',
      '{"type":"request","data":{"id":2,"cmd":"nope"}}',
      '{"type":"request","data":{"id":3}}',
      '{"type":"request","data":{"id":4,"cmd":"commands"}}',
      '',
    ].join('\f'),
  );
  // Requests run concurrently: collect the six answers, then check each.
  const frames: WireFrame[] = [];
  for (let i = 0; i < 6; i++) frames.push(await raw.next());
  const byId = new Map(frames.filter((f) => f.data.id != null).map((f) => [f.data.id, f]));
  const anonymous = frames.filter((f) => f.data.id == null);
  t.is(anonymous.length, 2);
  for (const f of anonymous) t.is(f.data.error?.code, 'HIVE_IPC_MALFORMED_FRAME');
  t.is(byId.get(1)?.data.ok, true);
  t.is(byId.get(2)?.data.error?.code, 'HIVE_IPC_UNKNOWN_COMMAND');
  t.is(byId.get(3)?.data.error?.code, 'HIVE_IPC_BAD_REQUEST');
  t.is(byId.get(4)?.data.ok, true);
  const listed = byId.get(4)?.data.result as { commands: { name: string }[] } | undefined;
  t.true(listed?.commands.some((c) => c.name === 'task.submit'));
});

test('oversized frames are refused with HIVE_IPC_FRAME_TOO_LARGE; the daemon and other clients are fine', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  const bystander = await daemon.connect();
  t.teardown(() => bystander.close());

  // A complete frame over the limit, sent in one piece.
  const big = await RawClient.open(daemon.socket);
  t.teardown(() => big.destroy());
  const payload = 'x'.repeat(MAX_FRAME * 3);
  await big
    .write(
      `${JSON.stringify({ type: 'request', data: { id: 1, cmd: 'task.submit', args: { type: 'echo', payload } } })}\f`,
    )
    .catch(() => {});
  assertError(t, await big.next(), 'HIVE_IPC_FRAME_TOO_LARGE', null, 'complete oversized frame');
  t.true(await big.closesWithin(5_000), 'the connection is closed after an oversized frame');
  await assertBystanderWorks(t, daemon, bystander, 'a complete oversized frame');

  // A frame that never ends: the buffer limit trips before any delimiter arrives.
  const endless = await RawClient.open(daemon.socket);
  t.teardown(() => endless.destroy());
  await endless.write(`{"type":"request","data":{"id":2,"cmd":"status","args":{"pad":"`);
  for (let i = 0; i < 4 && !endless.isClosed; i++) {
    await endless.write('y'.repeat(MAX_FRAME)).catch(() => {});
  }
  assertError(t, await endless.next(), 'HIVE_IPC_FRAME_TOO_LARGE', null, 'unterminated frame');
  t.true(await endless.closesWithin(5_000));
  await assertBystanderWorks(t, daemon, bystander, 'an unterminated oversized frame');

  // A frame just under the limit is fine (the limit is not off by a lot).
  const fits = await RawClient.open(daemon.socket);
  t.teardown(() => fits.destroy());
  const envelope = (pad: string) =>
    JSON.stringify({
      type: 'request',
      data: { id: 3, cmd: 'task.submit', args: { type: 'echo', payload: pad } },
    });
  const room = MAX_FRAME - Buffer.byteLength(envelope('')) - 16;
  await fits.write(`${envelope('z'.repeat(room))}\f`);
  const accepted = await fits.next();
  t.is(accepted.data.id, 3);
  t.is(accepted.data.ok, true, JSON.stringify(accepted.data.error));
  t.regex((accepted.data.result as { id: string }).id, /^t/);
  t.false(fits.isClosed);
  await assertBystanderWorks(t, daemon, bystander, 'a frame under the limit');
});

test('fragmented frames, stalled frames and abrupt disconnects do not disturb the daemon', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  const bystander = await daemon.connect();
  t.teardown(() => bystander.close());

  // One request written a few bytes at a time, split inside a multi-byte character.
  const slow = await RawClient.open(daemon.socket);
  t.teardown(() => slow.destroy());
  const bytes = Buffer.from(
    `${JSON.stringify({ type: 'request', data: { id: 'frag', cmd: 'task.get', args: { id: 'tüñï' } } })}\f`,
  );
  for (let i = 0; i < bytes.length; i += 3) await slow.write(bytes.subarray(i, i + 3));
  const answer = await slow.next();
  t.is(answer.data.id, 'frag');
  t.is(answer.data.error?.code, 'HIVE_TASK_NOT_FOUND');
  t.true(answer.data.error?.message.includes('tüñï'), 'the split character survived');

  // A frame that stays incomplete past ipc.frameTimeoutMs: the connection is dropped.
  const stalled = await RawClient.open(daemon.socket);
  t.teardown(() => stalled.destroy());
  await stalled.write('{"type":"request","data":{"id":1,');
  t.true(await stalled.closesWithin(10_000), 'a stalled frame is dropped after frameTimeoutMs');
  await assertBystanderWorks(t, daemon, bystander, 'a stalled frame');

  // Clients that vanish mid-frame, mid-request and mid-wait.
  const halfFrame = await RawClient.open(daemon.socket);
  await halfFrame.write('{"type":"requ');
  halfFrame.destroy();
  const scaled = (await bystander.request('bots.scale', { kind: 'echo', instances: 0 })) as {
    to: number;
  };
  t.is(scaled.to, 0);
  const waiter = await RawClient.open(daemon.socket);
  await waiter.request(1, 'task.submit', { type: 'echo', wait: true });
  // Vanish only once the submission is in (a request still unread at the close is dropped).
  await waitFor(
    async () =>
      ((await bystander.request('status')) as { queue: { queued: number } }).queue.queued === 1,
    { what: 'the waited task to be queued' },
  );
  waiter.destroy();
  const abandoned = await RawClient.open(daemon.socket);
  for (let i = 0; i < 20; i++) await abandoned.request(i, 'status', {});
  abandoned.destroy();
  await assertBystanderWorks(t, daemon, bystander, 'abrupt disconnects');

  // The task whose waiter went away is still there and still runs once a bot is back.
  const queued = (await bystander.request('task.ls', { state: 'queued' })) as {
    tasks: { id: string }[];
  };
  t.is(queued.tasks.length, 1);
  await bystander.request('bots.scale', { kind: 'echo', instances: 1 });
  const id = queued.tasks[0]?.id as string;
  const done = (await bystander.request('task.wait', { id, timeoutMs: 15_000 })) as {
    state: string;
  };
  t.is(done.state, 'done');
});

test('50 clients at once all get answers', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  const clients = await Promise.all(Array.from({ length: 50 }, () => daemon.connect()));
  t.teardown(() => {
    for (const c of clients) c.close();
  });
  // Every client sends several requests before any answer is read.
  const answers = await Promise.all(
    clients.flatMap((c) =>
      Array.from({ length: 4 }, () => c.request('status') as Promise<{ daemon: { pid: number } }>),
    ),
  );
  t.is(answers.length, 200);
  t.true(answers.every((a) => a.daemon.pid === pidOf(daemon)));

  // Half of them go away abruptly; the other half still work.
  for (const c of clients.slice(0, 25)) c.close();
  const rest = await Promise.all(
    clients.slice(25).map((c) => c.request('task.ls', { limit: 1 }) as Promise<{ tasks: [] }>),
  );
  t.is(rest.length, 25);
  t.true(rest.every((r) => Array.isArray(r.tasks)));
  await waitFor(() => daemon.process.exitCode === null, { what: 'hived alive' });
});

test('a client that never reads is cut off at ipc.maxPendingBytes; others are not disturbed', async (t) => {
  const daemon = await startDaemon(t, {
    config: { ipc: { maxPendingBytes: 64 * 1024 }, bots: {} },
  });
  const bystander = await daemon.connect();
  t.teardown(() => bystander.close());
  const hog = createConnection({ path: daemon.socket });
  t.teardown(() => hog.destroy());
  await once(hog, 'connect');
  hog.pause(); // never read a byte of the answers
  let cutOff: Error | undefined;
  hog.on('error', (error) => {
    cutOff = error;
  });
  // Ask for answers until the daemon gives up on us: a write fails once it closed the socket.
  let sent = 0;
  while (!cutOff && sent < 50_000) {
    const frames = Array.from(
      { length: 100 },
      (_, i) => `${JSON.stringify({ type: 'request', data: { id: sent + i, cmd: 'commands' } })}\f`,
    ).join('');
    sent += 100;
    await new Promise<void>((resolve) => hog.write(frames, () => resolve()));
    if (sent % 2000 === 0)
      await assertBystanderWorks(t, daemon, bystander, `${sent} unread requests`);
  }
  t.truthy(cutOff, `the daemon cut the connection off (after ${sent} requests)`);
  t.log(`cut off after ${sent} unread requests: ${cutOff?.message}`);
  await assertBystanderWorks(t, daemon, bystander, 'cutting off a slow client');
});

test('a cancel frame ends an open wait with HIVE_IPC_CANCELLED', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  await daemon.call('bots.scale', { kind: 'echo', instances: 0 });
  const raw = await RawClient.open(daemon.socket);
  t.teardown(() => raw.destroy());
  await raw.request('w', 'task.submit', { type: 'echo', wait: true });
  await waitFor(
    async () => ((await daemon.call('status')) as { queue: { queued: number } }).queue.queued === 1,
    { what: 'the waited task to be queued' },
  );
  // Cancels of unknown ids and malformed cancels are ignored.
  await raw.write('{"type":"cancel","data":{"id":"nope"}}\f{"type":"cancel","data":null}\f');
  await raw.write('{"type":"cancel","data":{"id":"w"}}\f');
  assertError(t, await raw.next(), 'HIVE_IPC_CANCELLED', 'w', 'cancelled wait');
  t.is(raw.pending, 0, 'nothing else was answered');
  // The task itself is untouched by the end of the wait.
  const tasks = (await daemon.call('task.ls', {})) as { tasks: { state: string }[] };
  t.deepEqual(
    tasks.tasks.map((task) => task.state),
    ['queued'],
  );
});

test('an answer larger than the frame limit becomes an error answer; the connection stays usable', async (t) => {
  const daemon = await startDaemon(t, { config: config() });
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      connection.request('task.submit', { type: 'echo', payload: { i } }),
    ),
  );
  const raw = await RawClient.open(daemon.socket);
  t.teardown(() => raw.destroy());
  await raw.request('big', 'task.ls', { limit: 1000 });
  const answer = await raw.next();
  assertError(t, answer, 'HIVE_IPC_FRAME_TOO_LARGE', 'big', 'oversized answer');
  t.regex(answer.data.error?.message ?? '', /ask for less/);
  await raw.request('small', 'task.ls', { limit: 2 });
  const small = await raw.next();
  t.is(small.data.ok, true);
  t.is((small.data.result as { tasks: unknown[] }).tasks.length, 2);
});
