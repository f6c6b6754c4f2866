/**
 * Bot-to-bot messaging end to end: the SDK's request and topics, the
 * operator's `hive msg` commands, a Python bot on JSON lines, and what a
 * full inbox does.
 */
import { join } from 'node:path';
import test from 'ava';
import { trailEntries } from '../helpers/audit.ts';
import {
  hasPython,
  pythonBot,
  runHive,
  startDaemon,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { errorCode, gate, submit, waitFinal } from '../helpers/fleet.ts';
import { handled, message, send, talkerBot, waitMessage } from '../helpers/messages.ts';

test('bots talk through the SDK; a topic reaches each subscribed kind once; hive msg send --wait streams the reply', async (t) => {
  const log = join(tempDir(t), 'talker.log');
  const topics = { env: { HIVE_FIXTURE_TOPICS: 'news' } };
  const daemon = await startDaemon(t, {
    config: {
      bots: {
        alpha: talkerBot(log, { instances: 2, taskTypes: ['ask'], ...topics }),
        beta: talkerBot(log, topics),
      },
    },
  });
  await waitForReadyBots(daemon, 3);

  // A task on alpha asks beta (SDK request) and returns beta's reply.
  const asked = await waitFinal(
    daemon,
    (await submit(daemon, 'ask', { payload: { to: 'beta', body: { op: 'echo', q: 42 } } })).id,
  );
  t.like(asked, { state: 'done', result: { reply: { echo: { q: 42 }, by: 'beta-0' } } });

  // The subscriptions were persisted when the bots started: one copy per kind.
  const sock = ['--socket', daemon.socket];
  const published = await runHive([
    'msg',
    'send',
    'news',
    '--body',
    '{"headline":1}',
    '--json',
    ...sock,
  ]);
  const { ids } = JSON.parse(published.stdout) as { ids: string[] };
  t.is(ids.length, 2);
  for (const id of ids) await waitMessage(daemon, id, (m) => m.state === 'acked', `${id} acked`);
  t.is(handled(log).filter((h) => ids.includes(h.id)).length, 2, 'each kind handled it once');
  const addresses = await Promise.all(ids.map(async (id) => (await message(daemon, id)).address));
  t.deepEqual(addresses.sort(), ['kind:alpha', 'kind:beta']);

  // An operator waits for the reply; the partial replies stream first.
  const streamed = await runHive([
    'msg',
    'send',
    'beta-0',
    '--body',
    '{"op":"stream","parts":2}',
    '--priority',
    '0',
    '--wait',
    ...sock,
  ]);
  t.is(streamed.code, 0, streamed.stderr);
  t.deepEqual(streamed.stdout.trim().split('\n'), [
    '{"part":0}',
    '{"part":1}',
    '{"echo":{"op":"stream","parts":2},"by":"beta-0"}',
  ]);

  const nobody = await runHive(['msg', 'send', 'nobody', '--body', '1', ...sock]);
  t.is(nobody.code, 1);
  t.regex(nobody.stderr, /HIVE_MSG_NO_RECIPIENT/);
  t.is(await errorCode(send(daemon, 'beta', 'x'.repeat(300_000))), 'HIVE_MSG_TOO_LARGE');
});

test('a full inbox evicts the least urgent, oldest message (a P0 too, with a record); a message less urgent than all is refused', async (t) => {
  const dir = tempDir(t);
  const log = join(dir, 'talker.log');
  const door = gate(dir);
  const daemon = await startDaemon(t, {
    config: {
      messaging: { inboxMaxLen: 3, maxInflightPerBot: 1 },
      bots: { sink: talkerBot(log) },
    },
  });
  await waitForReadyBots(daemon, 1, 'sink');
  const held = await send(daemon, 'sink-0', { gate: door.path }, { priority: 0 });
  await waitMessage(daemon, held.id, (m) => m.state === 'delivered', 'the held message out');
  const to = (priority: number, n: string) => send(daemon, 'sink-0', { n }, { priority });
  const a = await to(3, 'a');
  const b = await to(1, 'b');
  const c = await to(1, 'c');
  const d = await to(0, 'd'); // evicts a: the least urgent
  t.is(await errorCode(to(2, 'e')), 'HIVE_MSG_INBOX_FULL', 'P2 is less urgent than all of b, c, d');
  const f = await to(0, 'f'); // evicts b: the oldest of the least urgent
  const g = await to(0, 'g'); // evicts c
  const h = await to(0, 'h'); // only P0s wait: evicts d, the oldest, with a record
  const state = async (s: { id: string }) => message(daemon, s.id);
  t.like(await state(a), { state: 'dead', dead: { reason: 'maxlen' } });
  t.like(await state(b), { state: 'dead', dead: { reason: 'maxlen' } });
  t.like(await state(c), { state: 'dead', dead: { reason: 'maxlen' } });
  t.like(await state(d), { state: 'dead', dead: { reason: 'maxlen' } });
  for (const s of [f, g, h]) t.like(await state(s), { state: 'queued' });
  const evictedP0 = await waitFor(
    () =>
      trailEntries(join(daemon.stateDir, 'logs')).find(
        (e) => e.action === 'message.dead_letter' && e.target === d.id,
      ),
    { what: 'the evicted P0 in the audit trail' },
  );
  t.like(evictedP0, { severity: 'warning', details: { reason: 'maxlen', priority: 0 } });

  // An operator sends a dead letter back: it is delivered with fresh deliveries.
  const sock = ['--socket', daemon.socket];
  const requeued = await runHive(['msg', 'dead', '--requeue', d.id, ...sock]);
  t.is(requeued.code, 0, requeued.stderr);
  t.regex(requeued.stdout, new RegExp(`${d.id} requeued to bot:sink-0`));
  door.open();
  for (const s of [d, f, g, h])
    await waitMessage(daemon, s.id, (m) => m.state === 'acked', `${s.id} acked`);
  t.deepEqual(
    handled(log).map((x) => (x.body as { n?: string }).n ?? 'held'),
    ['held', 'f', 'g', 'h', 'd'],
  );
  const listed = await runHive([
    'msg',
    'ls',
    '--to',
    'sink-0',
    '--state',
    'dead',
    '--json',
    ...sock,
  ]);
  const dead = (JSON.parse(listed.stdout) as { messages: { id: string }[] }).messages;
  t.deepEqual(dead.map((m) => m.id).sort(), [a.id, b.id, c.id].sort());
  const shown = await runHive(['msg', 'get', a.id, ...sock]);
  t.regex(shown.stdout, /dead: +maxlen: evicted from the full inbox bot:sink-0/);
});

(hasPython() ? test : test.skip)(
  `a Python bot on JSON lines receives, acks and replies${hasPython() ? '' : ' (skipped: no python3)'}`,
  async (t) => {
    const daemon = await startDaemon(t, {
      config: {
        bots: {
          py: pythonBot(),
        },
      },
    });
    await waitForReadyBots(daemon, 1, 'py');
    const answer = (await daemon.call('msg.send', {
      to: 'py',
      body: { text: 'hello from node' },
      wait: true,
      waitTimeoutMs: 10_000,
    })) as { id: string; reply?: { body: unknown; from: string } };
    t.like(answer.reply, { from: 'py-0', body: { upper: 'HELLO FROM NODE', python: true } });
    t.like(await message(daemon, answer.id), { state: 'acked', ackedBy: 'py-0', deliveries: 1 });
  },
);
