/**
 * At-least-once delivery with real bots: a crash before the ack, a missed
 * ack deadline, poison messages that never get through.
 */
import { join } from 'node:path';
import test from 'ava';
import { trailEntries } from '../helpers/audit.ts';
import { startDaemon, tempDir, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { readMarks } from '../helpers/fleet.ts';
import { handled, send, talkerBot, waitMessage } from '../helpers/messages.ts';

const quickRestart = { restart: { initialDelayMs: 50, maxDelayMs: 100 } };

test('a receiver that crashes before acking gets the message again once it is ready, and handles it once', async (t) => {
  const log = join(tempDir(t), 'talker.log');
  const daemon = await startDaemon(t, {
    config: {
      messaging: { retryBackoffMs: [50] },
      bots: { sink: talkerBot(log, quickRestart) },
    },
  });
  await waitForReadyBots(daemon, 1, 'sink');
  const { id } = await send(daemon, 'sink', { op: 'crash', until: 1 });
  const done = await waitMessage(daemon, id, (m) => m.state === 'acked', 'the message to be acked');
  t.is(done.deliveries, 2);
  t.deepEqual(
    done.history.map((a) => a.outcome),
    ['crash', 'acked'],
  );
  t.regex(done.history[0]?.reason ?? '', /exited with code 7/);
  const crashed = readMarks(log).filter((m) => m.event === 'crashing');
  t.is(crashed.length, 1, 'the first delivery killed the bot');
  const mine = handled(log).filter((h) => h.id === id);
  t.is(mine.length, 1, 'handled once');
  t.is(mine[0]?.delivery, 2);
  t.not(mine[0]?.pid, crashed[0]?.pid, 'by the restarted process');
});

test('a redelivery to a bot still handling the message is dropped by the SDK: handled once', async (t) => {
  const log = join(tempDir(t), 'talker.log');
  const daemon = await startDaemon(t, {
    config: {
      messaging: { ackTimeoutMs: 300, retryBackoffMs: [50] },
      bots: { sink: talkerBot(log) },
    },
  });
  await waitForReadyBots(daemon, 1, 'sink');
  const { id } = await send(daemon, 'sink-0', { ms: 1200 });
  await waitMessage(daemon, id, (m) => m.deliveries >= 2, 'the redelivery after the deadline');
  const done = await waitMessage(daemon, id, (m) => m.state === 'acked', 'the late ack');
  // Redelivered every 350 ms while the handler ran (1.2 s): each went to the same bot.
  const outcomes = done.history.map((a) => a.outcome);
  t.true(done.deliveries >= 2);
  t.deepEqual(outcomes, [...Array(done.deliveries - 1).fill('timeout'), 'acked']);
  t.true(done.history.every((a) => a.bot === 'sink-0'));
  t.is(handled(log).filter((h) => h.id === id).length, 1, 'the handler ran once');
});

test('a poison message stops after exactly maxDeliveries and is dead-lettered with its history', async (t) => {
  const log = join(tempDir(t), 'talker.log');
  const daemon = await startDaemon(t, {
    config: {
      messaging: { maxDeliveries: 3, retryBackoffMs: [50, 100] },
      bots: { sink: talkerBot(log, quickRestart) },
    },
  });
  await waitForReadyBots(daemon, 1, 'sink');
  // One after the other: a crash would also end the deliveries of the others.
  const dead = async (id: string) =>
    waitMessage(daemon, id, (m) => m.state === 'dead', `message ${id} to be dead`);
  const crasher = await send(daemon, 'sink', { op: 'crash' });
  const crashed = await dead(crasher.id);
  const failer = await send(daemon, 'sink', { op: 'fail' });
  const failed = await dead(failer.id);
  const rejected = await send(daemon, 'sink', { op: 'reject' });
  const refused = await dead(rejected.id);

  t.like(crashed, { deliveries: 3, dead: { reason: 'delivery_limit' } });
  t.deepEqual(
    crashed.history.map((a) => a.outcome),
    ['crash', 'crash', 'crash'],
  );
  t.is(readMarks(log).filter((m) => m.event === 'crashing').length, 3);

  t.like(failed, { deliveries: 3, dead: { reason: 'delivery_limit' } });
  t.deepEqual(
    failed.history.map((a) => [a.outcome, a.reason]),
    [
      ['nack', 'failing on delivery 1'],
      ['nack', 'failing on delivery 2'],
      ['nack', 'failing on delivery 3'],
    ],
  );
  t.regex(failed.dead?.message ?? '', /delivered 3 times \(maxDeliveries 3\)/);
  // Redeliveries waited out the backoff list: 50 ms, then 100 ms (the last repeats).
  const gaps = failed.history
    .slice(1)
    .map((a, i) => a.at - (failed.history[i]?.endedAt ?? Number.POSITIVE_INFINITY));
  t.true((gaps[0] ?? 0) >= 50 && (gaps[1] ?? 0) >= 100, `gaps ${gaps}`);

  t.like(refused, { deliveries: 1, dead: { reason: 'rejected' } });
  t.is(handled(log).filter((h) => h.id === rejected.id).length, 1);

  const entries = await waitFor(
    () => {
      const all = trailEntries(join(daemon.stateDir, 'logs'));
      return all.filter((e) => e.action === 'message.dead_letter').length >= 3 ? all : undefined;
    },
    { what: 'three dead letters in the audit trail' },
  );
  const reasons = entries
    .filter((e) => e.action === 'message.dead_letter')
    .map((e) => [e.target, (e.details as { reason: string }).reason]);
  t.deepEqual(
    new Map(reasons as [string, string][]),
    new Map([
      [crasher.id, 'delivery_limit'],
      [failer.id, 'delivery_limit'],
      [rejected.id, 'rejected'],
    ]),
  );
});
