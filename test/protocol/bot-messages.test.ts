import test from 'ava';
import { parseBotMessage } from '../../protocol/bot.ts';

test('messaging messages from bots are checked strictly; a bad one is a reason, never a message', (t) => {
  t.deepEqual(
    parseBotMessage({ type: 'message', to: 'echo', body: { x: 1 }, priority: 0, ref: 7 }),
    {
      type: 'message',
      to: 'echo',
      body: { x: 1 },
      priority: 0,
      ref: 7,
    },
  );
  t.deepEqual(parseBotMessage({ type: 'ack', ids: ['m1', 'm2'] }), {
    type: 'ack',
    ids: ['m1', 'm2'],
  });
  t.deepEqual(parseBotMessage({ type: 'nack', id: 'm1', requeue: false, reason: 'no' }), {
    type: 'nack',
    id: 'm1',
    requeue: false,
    reason: 'no',
  });
  t.deepEqual(parseBotMessage({ type: 'subscribe', topics: ['news', 'a.b/c'] }), {
    type: 'subscribe',
    topics: ['news', 'a.b/c'],
  });
  const refused: [unknown, RegExp][] = [
    [{ type: 'message', to: 'echo' }, /body is missing/],
    [{ type: 'message', to: '', body: 1 }, /message\.to/],
    [{ type: 'message', to: 'a b', body: 1 }, /message\.to/],
    [{ type: 'message', to: 'echo', body: 1, priority: 4 }, /priority must be 0 to 3/],
    [{ type: 'message', to: 'echo', body: 1, priority: 1.5 }, /priority/],
    [{ type: 'message', to: 'echo', body: 1, ttlMs: 0 }, /ttlMs/],
    [{ type: 'message', to: 'echo', body: 1, replyTo: '../x' }, /replyTo/],
    [{ type: 'message', to: 'echo', body: 1, ref: {} }, /ref/],
    [{ type: 'ack', ids: [] }, /ack\.ids/],
    [{ type: 'ack', ids: 'm1' }, /ack\.ids/],
    [{ type: 'ack', ids: Array.from({ length: 1001 }, (_, i) => `m${i}`) }, /1 to 1000/],
    [{ type: 'ack', ids: [42] }, /message ids/],
    [{ type: 'nack', id: 'm1' }, /requeue/],
    [{ type: 'extend', id: 'm1', ms: -5 }, /extend\.ms/],
    [{ type: 'subscribe', topics: ['bad topic'] }, /topic names/],
    [{ type: 'deliver', id: 'm1' }, /unknown message type/],
  ];
  for (const [value, reason] of refused) {
    const parsed = parseBotMessage(value);
    t.is(typeof parsed, 'string', JSON.stringify(value));
    t.regex(String(parsed), reason);
  }
});
