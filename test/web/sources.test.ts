/**
 * The dashboard's dead-messages view source: what it reads and which
 * message store changes refresh it (the browser side is in dashboard.test.ts).
 */
import test from 'ava';
import { z } from 'zod';
import { TypedEmitter } from '../../daemon/core/events.ts';
import { deadMessagesSource, VIEW_ROWS } from '../../daemon/dashboard/sources.ts';
import { args, CommandRouter } from '../../daemon/ipc/router.ts';
import type { MessageState } from '../../daemon/messenger/message.ts';
import type { MessageStore, MessageStoreEvents } from '../../daemon/messenger/store.ts';

function fakeMessaging() {
  const store = new TypedEmitter<MessageStoreEvents>();
  const reads: unknown[] = [];
  const router = new CommandRouter();
  router.register({
    name: 'msg.dead',
    summary: 'dead letters',
    mutating: false,
    args: args({ limit: z.number() }),
    handler: (a) => {
      reads.push(a);
      return { messages: [] };
    },
  });
  const change = (state: MessageState, from: MessageState | undefined) =>
    store.emit('changed', {
      message: { id: 'm1', state } as MessageStoreEvents['changed']['message'],
      from,
      record: { t: 'requeue', id: 'm1', at: 0 },
    });
  return { store: store as unknown as MessageStore, router, reads, change };
}

test('the dead-messages view reads msg.dead and refreshes only when a message enters or leaves the dead letters', async (t) => {
  const { store, router, reads, change } = fakeMessaging();
  const source = deadMessagesSource(router, store);
  t.is(source.name, 'deadMessages');
  t.deepEqual(await source.read(), { messages: [] });
  t.deepEqual(reads, [{ limit: VIEW_ROWS }]);

  let pokes = 0;
  const off = source.subscribe(() => {
    pokes += 1;
  });
  // Everyday traffic does not touch the view.
  change('queued', undefined);
  change('delivered', 'queued');
  change('acked', 'delivered');
  change('queued', 'delivered');
  t.is(pokes, 0);
  change('dead', 'delivered');
  change('expired', 'queued');
  change('queued', 'dead');
  change('queued', 'expired');
  t.is(pokes, 4);
  off();
  change('dead', 'delivered');
  t.is(pokes, 4, 'no pokes once unsubscribed');
});
