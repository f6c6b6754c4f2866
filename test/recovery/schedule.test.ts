/**
 * Automatic backups against a real hived: taken on the configured period,
 * skipped while nothing changed, taken again after a change.
 */
import test from 'ava';
import { echoBot, startDaemon, waitFor } from '../helpers/daemon.ts';
import { backups, submit } from '../helpers/recovery.ts';

interface Schedule {
  intervalMs: number;
  nextAt: number | null;
  runs: number;
  lastOutcome?: string;
}

test('scheduled full backups: one per change, none while nothing changes', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { echo: echoBot({ instances: 0 }) }, backup: { intervalMs: 200 } },
  });
  const schedule = async () =>
    ((await daemon.call('recovery.status')) as { schedule: Schedule }).schedule;
  const scheduled = async () => (await backups(daemon)).filter((b) => b.source === 'schedule');
  t.is((await schedule()).intervalMs, 200);
  t.not((await schedule()).nextAt, null);

  await submit(daemon);
  const first = await waitFor(async () => {
    const list = await scheduled();
    return list.length === 1 ? list : undefined;
  });
  t.is(first[0]?.kind, 'full');

  // Three more runs with no change in between: all skipped.
  const runs = (await schedule()).runs;
  const idle = await waitFor(async () => {
    const s = await schedule();
    return s.runs >= runs + 3 ? s : undefined;
  });
  t.regex(idle.lastOutcome ?? '', /^skipped: nothing changed since /);
  t.is((await scheduled()).length, 1);

  await submit(daemon);
  const second = await waitFor(async () => {
    const list = await scheduled();
    return list.length === 2 ? list : undefined;
  });
  t.true((second[1]?.revision.queueSeq ?? 0) > (second[0]?.revision.queueSeq ?? 0));
});
