/**
 * The messenger's durability promise against a real hived: a message is
 * acknowledged only once it is on disk, so kill -9 in the middle of a send
 * storm loses none, and what each message went through (its delivery
 * count, its backoff) survives too.
 */
import { join } from 'node:path';
import test from 'ava';
import type { MessageView } from '../../protocol/messaging.ts';
import { startDaemon, tempDir, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { handled, send, talkerBot, waitMessage } from '../helpers/messages.ts';
import { slices, submitMany } from '../helpers/submit.ts';

const TOTAL = 800;
const CLIENTS = 8;
const KILL_AFTER_ACKS = 300;

test('kill -9 of hived with messages queued: none lost, delivery counts kept', async (t) => {
  const log = join(tempDir(t), 'talker.log');
  const config = {
    // A long backoff keeps nacked messages waiting across the kill; a small
    // compaction threshold makes the store snapshot during the run.
    messaging: { retryBackoffMs: [60_000], compactAfterBytes: 32 * 1024 },
    bots: { sink: talkerBot(log) },
  };
  const first = await startDaemon(t, { config });
  await waitForReadyBots(first, 1, 'sink');
  const failing = await Promise.all(
    Array.from({ length: 20 }, (_, i) => send(first, 'sink-0', { op: 'fail', until: 1, i })),
  );
  for (const { id } of failing)
    await waitMessage(first, id, (m) => m.deliveries === 1 && m.state === 'queued', `${id} nacked`);
  // The receiver goes away: from now on everything waits in its kind's inbox.
  await first.call('bots.scale', { kind: 'sink', instances: 0 });

  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => first.connect()));
  let acks = 0;
  const onAck = () => {
    acks += 1;
    if (acks === KILL_AFTER_ACKS) first.kill('SIGKILL');
  };
  const request = (i: number) => ({
    cmd: 'msg.send',
    args: { to: 'sink', body: { n: i }, priority: i % 4 },
  });
  const outcomes = await Promise.all(
    connections.map((c, n) => submitMany(c, slices(TOTAL, CLIENTS)[n] ?? [], { onAck, request })),
  );
  t.is((await first.exited).signal, 'SIGKILL');
  const acked = new Map(outcomes.flatMap((o) => [...o.acked]));
  t.true(acked.size >= KILL_AFTER_ACKS && acked.size < TOTAL, `${acked.size} acknowledged`);
  t.true(
    outcomes.some((o) => o.lost.length > 0),
    'some sends were in flight when hived died',
  );

  const second = await startDaemon(t, { config, stateDir: first.stateDir });
  const { messages } = (await second.call('msg.ls', { limit: 10_000 })) as {
    messages: MessageView[];
  };
  const byId = new Map(messages.map((m) => [m.id, m]));
  const missing = [...acked.values()].filter((id) => !byId.has(id));
  t.deepEqual(missing, [], 'every acknowledged message is there after the kill');
  for (const id of acked.values()) t.like(byId.get(id), { state: 'queued', deliveries: 0 });
  for (const { id } of failing) {
    const m = byId.get(id);
    t.like(m, { state: 'queued', deliveries: 1 }, 'the delivery count survived');
    t.true((m?.availableAt ?? 0) > Date.now() + 30_000, 'and so did its backoff');
  }

  // The receiver comes back: each acknowledged message is handled exactly once.
  await second.call('bots.scale', { kind: 'sink', instances: 1 });
  await waitFor(
    () => {
      const ids = new Set(handled(log).map((h) => h.id));
      return [...acked.values()].every((id) => ids.has(id));
    },
    { timeoutMs: 30_000, what: 'every acknowledged message to be handled' },
  );
  const counts = new Map<string, number>();
  for (const h of handled(log)) counts.set(h.id, (counts.get(h.id) ?? 0) + 1);
  t.deepEqual(
    [...acked.values()].filter((id) => counts.get(id) !== 1),
    [],
    'handled exactly once',
  );
});
