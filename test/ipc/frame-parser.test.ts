import test from 'ava';
import { IPCModule } from 'node-ipc';
import {
  HiveFrameParser,
  PROTOCOL_ERROR_EVENT,
  type ProtocolErrorData,
} from '../../daemon/ipc/frame-parser.ts';

type Message = { type: string; data: unknown };

const MAX = 256;

function parser(maxMessageSize = MAX): HiveFrameParser {
  const config = new IPCModule().config;
  config.maxMessageSize = maxMessageSize;
  return new HiveFrameParser(config);
}

/** Feeds chunks one by one, as socket 'data' events would; returns what was received and the buffer left. */
function feed(p: HiveFrameParser, chunks: string[]): { messages: Message[]; rest: string } {
  const messages: Message[] = [];
  let buffer = '';
  for (const chunk of chunks) buffer = p.read(buffer, chunk, (m) => messages.push(m));
  return { messages, rest: buffer };
}

const frame = (value: unknown) => `${JSON.stringify(value)}\f`;
const request = (id: string | number, cmd = 'status') => ({ type: 'request', data: { id, cmd } });

function problemOf(message: Message | undefined): ProtocolErrorData {
  if (message?.type !== PROTOCOL_ERROR_EVENT)
    throw new Error(`not a protocol error: ${JSON.stringify(message)}`);
  return message.data as ProtocolErrorData;
}

test('valid request and cancel frames pass through unchanged', (t) => {
  const { messages, rest } = feed(parser(), [
    frame(request(1)) + frame({ type: 'cancel', data: { id: 1 } }) + frame(request('b', 'task.ls')),
  ]);
  t.deepEqual(messages, [
    { type: 'request', data: { id: 1, cmd: 'status' } },
    { type: 'cancel', data: { id: 1 } },
    { type: 'request', data: { id: 'b', cmd: 'task.ls' } },
  ]);
  t.is(rest, '');
});

test('malformed JSON becomes a non-fatal protocol error, and later frames still parse', (t) => {
  const { messages } = feed(parser(), [`{"type":"request",\f${frame(request(2))}`]);
  t.is(messages.length, 2);
  t.deepEqual(problemOf(messages[0]), {
    code: 'HIVE_IPC_MALFORMED_FRAME',
    message: 'frame is not valid JSON',
    id: null,
    fatal: false,
  });
  t.deepEqual(messages[1], { type: 'request', data: { id: 2, cmd: 'status' } });
});

test('a JSON value that is not an object is a protocol error', (t) => {
  for (const bad of ['[1,2]', '"request"', '42', 'null', 'true']) {
    const { messages } = feed(parser(), [`${bad}\f`]);
    const problem = problemOf(messages[0]);
    t.is(problem.code, 'HIVE_IPC_MALFORMED_FRAME', bad);
    t.false(problem.fatal, bad);
    t.is(problem.id, null, bad);
    t.regex(problem.message, /JSON object/, bad);
  }
});

test('a wrong frame type is refused with the request id echoed', (t) => {
  const cases: [unknown, string | number | null][] = [
    [{ type: 'response', data: { id: 7 } }, 7],
    [{ type: 'event', data: { id: 'abc' } }, 'abc'],
    [{ type: 'constructor', data: { id: 'x1' } }, 'x1'],
    [{ type: 'request-ish', data: { id: { nested: true } } }, null],
    [{ data: { id: 9 } }, 9],
    [{ type: 5, data: null }, null],
  ];
  for (const [value, id] of cases) {
    const { messages } = feed(parser(), [frame(value)]);
    const problem = problemOf(messages[0]);
    t.is(problem.code, 'HIVE_IPC_MALFORMED_FRAME');
    t.is(problem.id, id, JSON.stringify(value));
    t.false(problem.fatal);
    t.regex(problem.message, /frame type must be "request" or "cancel"/);
  }
  const missing = problemOf(feed(parser(), [frame({ data: {} })]).messages[0]);
  t.regex(missing.message, /got nothing$/);
});

test('frames split across chunks are reassembled, including a split delimiter position', (t) => {
  const text =
    frame(request(1)) + frame(request(2, 'bots.ls')) + frame({ type: 'cancel', data: { id: 2 } });
  for (const size of [1, 2, 3, 7, 16, 33]) {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    const { messages, rest } = feed(parser(), chunks);
    t.deepEqual(
      messages.map((m) => m.type),
      ['request', 'request', 'cancel'],
      `chunks of ${size}`,
    );
    t.deepEqual(messages[1]?.data, { id: 2, cmd: 'bots.ls' });
    t.is(rest, '');
  }
  // An unfinished frame is kept as the buffer for the next chunk.
  const half = feed(parser(), ['{"type":"requ']);
  t.deepEqual(half.messages, []);
  t.is(half.rest, '{"type":"requ');
});

test('an oversized frame is fatal and nothing after it is delivered', (t) => {
  const big = frame({ type: 'request', data: { id: 1, cmd: 'x', args: { pad: 'y'.repeat(MAX) } } });
  const { messages, rest } = feed(parser(), [frame(request(0)) + big + frame(request(2))]);
  t.is(messages.length, 2);
  t.deepEqual(messages[0], { type: 'request', data: { id: 0, cmd: 'status' } });
  const problem = problemOf(messages[1]);
  t.is(problem.code, 'HIVE_IPC_FRAME_TOO_LARGE');
  t.true(problem.fatal);
  t.is(rest, '', 'the buffer is dropped');
});

test('an unfinished frame that outgrows the limit is fatal before its delimiter arrives', (t) => {
  const p = parser();
  const messages: Message[] = [];
  let buffer = '';
  const chunk = 'z'.repeat(100);
  buffer = p.read(buffer, '{"type":"request","data":"', (m) => messages.push(m));
  buffer = p.read(buffer, chunk, (m) => messages.push(m));
  t.deepEqual(messages, [], 'still under the limit: waits for more');
  buffer = p.read(buffer, chunk, (m) => messages.push(m));
  buffer = p.read(buffer, chunk, (m) => messages.push(m));
  t.is(messages.length, 1);
  t.is(problemOf(messages[0]).code, 'HIVE_IPC_FRAME_TOO_LARGE');
  t.true(problemOf(messages[0]).fatal);
  t.is(buffer, '');
});

test('the frame limit counts bytes, not characters, and is inclusive', (t) => {
  const envelope = (pad: string) => JSON.stringify({ type: 'request', data: { id: 1, cmd: pad } });
  const base = Buffer.byteLength(envelope(''));
  const exact = envelope('a'.repeat(MAX - base));
  t.is(Buffer.byteLength(exact), MAX);
  const ok = feed(parser(), [`${exact}\f`]);
  t.is(ok.messages[0]?.type, 'request', 'a frame of exactly the limit is accepted');

  const over = envelope('a'.repeat(MAX - base + 1));
  t.is(problemOf(feed(parser(), [`${over}\f`]).messages[0]).code, 'HIVE_IPC_FRAME_TOO_LARGE');

  // Two-byte characters: under the limit in characters, over it in bytes.
  const wide = envelope('é'.repeat(MAX - base));
  t.true(wide.length <= MAX);
  t.is(problemOf(feed(parser(), [`${wide}\f`]).messages[0]).code, 'HIVE_IPC_FRAME_TOO_LARGE');
});
