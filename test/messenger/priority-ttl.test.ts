/**
 * Inbox order against a real hived and a real receiving bot: the bot's one
 * delivery slot is held by a message waiting at a gate, so everything sent
 * meanwhile waits in its inbox; opening the gate lets the inbox drain one
 * message at a time, in the order the messenger chooses.
 */
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { runHive, startDaemon, tempDir, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { gate } from '../helpers/fleet.ts';
import { handled, message, send, talkerBot, waitMessage } from '../helpers/messages.ts';

async function sinkWithHeldSlot(t: ExecutionContext, messaging: Record<string, unknown>) {
  const dir = tempDir(t);
  const log = join(dir, 'talker.log');
  const door = gate(dir);
  const daemon = await startDaemon(t, {
    config: { messaging: { maxInflightPerBot: 1, ...messaging }, bots: { sink: talkerBot(log) } },
  });
  await waitForReadyBots(daemon, 1, 'sink');
  const held = await send(daemon, 'sink-0', { held: true, gate: door.path }, { priority: 0 });
  await waitMessage(daemon, held.id, (m) => m.state === 'delivered', 'the held message to be out');
  return { daemon, log, door };
}

test('under a P0 flood P3 still gets its minimum share, and a free slot goes to P0 first', async (t) => {
  const { daemon, log, door } = await sinkWithHeldSlot(t, {
    minShare: { p1: 0, p2: 0, p3: 0.1 },
  });
  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  // The P3 backlog is older than every P0 message.
  const p3 = await Promise.all(
    Array.from({ length: 30 }, (_, i) => send(connection, 'sink-0', { p: 3, i }, { priority: 3 })),
  );
  const p0 = await Promise.all(
    Array.from({ length: 300 }, (_, i) => send(connection, 'sink-0', { p: 0, i }, { priority: 0 })),
  );
  door.open();
  const all = await waitFor(() => (handled(log).length >= 331 ? handled(log) : undefined), {
    timeoutMs: 30_000,
    what: 'every message to be handled',
  });
  const order = all.slice(1).map((h) => h.priority);
  t.is(order[0], 0, 'the first free slot goes to a P0 although the P3 messages came first');
  // While both wait, P3 gets its share of the deliveries: every 10th, no more, no less.
  const window = order.slice(0, 200);
  const p3Share = window.filter((p) => p === 3).length / window.length;
  t.log(`P3 share while P0 floods: ${(p3Share * 100).toFixed(1)} % (configured 10 %)`);
  t.true(p3Share >= 0.095 && p3Share <= 0.105, `P3 share ${p3Share}`);
  t.deepEqual(
    order.slice(0, 20),
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3],
    'P0 except where P3 is owed its share',
  );
  // Each message handled exactly once, FIFO within a priority.
  const ids = all.map((h) => h.id);
  t.is(new Set(ids).size, 331);
  const handledP0 = all.filter((h) => h.priority === 0 && !h.body.held).map((h) => h.id);
  t.deepEqual(
    handledP0,
    p0.map((s) => s.id),
  );
  t.deepEqual(
    all.filter((h) => h.priority === 3).map((h) => h.id),
    p3.map((s) => s.id),
  );
});

test('a short-TTL message behind a long-TTL one expires on time; the long one is delivered', async (t) => {
  const { daemon, log, door } = await sinkWithHeldSlot(t, {});
  const long = await send(daemon, 'sink-0', { n: 'long' }, { ttlMs: 60_000 });
  const short = await send(daemon, 'sink-0', { n: 'short' }, { ttlMs: 400 });
  const expired = await waitMessage(
    daemon,
    short.id,
    (m) => m.state === 'expired',
    'the short-TTL message to expire',
    5_000,
  );
  t.is(expired.dead?.reason, 'expired');
  const late = (expired.finishedAt ?? 0) - (expired.createdAt + 400);
  t.log(`expired ${late} ms after its TTL`);
  t.true(late >= 0 && late < 250, `expired ${late} ms after its TTL`);
  t.is((await message(daemon, long.id)).state, 'queued', 'the long-TTL message still waits');

  door.open();
  await waitMessage(
    daemon,
    long.id,
    (m) => m.state === 'acked',
    'the long-TTL message to be acked',
  );
  t.deepEqual(
    handled(log).map((h) => h.body.n ?? 'held'),
    ['held', 'long'],
    'the expired message never reached the bot',
  );
  const dead = await runHive(['msg', 'dead', '--json', '--socket', daemon.socket]);
  const listed = (JSON.parse(dead.stdout) as { messages: { id: string; dead: unknown }[] })
    .messages;
  t.like(listed.find((m) => m.id === short.id)?.dead, { reason: 'expired' });
});
