import test from 'ava';
import type { HiveError } from '../../protocol/errors.ts';
import type { ModeView } from '../../protocol/health.ts';
import {
  fixtureBot,
  runHive,
  startDaemon,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { type BotView, gate, getTask, readLog, submit, waitFinal } from '../helpers/fleet.ts';

const TASKS = 14;

test('queue depth over enterAt: FULL -> DEGRADED, low priority shed with a retry-after, high priority served first, drained -> FULL after the transition period', async (t) => {
  const transitionPeriodMs = 1_000;
  const daemon = await startDaemon(t, {
    config: {
      supervision: { tickMs: 50 },
      degradation: {
        intervalMs: 100,
        consecutiveSamples: 3,
        transitionPeriodMs,
        minDwellMs: 300,
        // Full pressure (every low-priority submission shed) at 10 queued.
        signals: { queueDepth: { enterAt: 6, exitAt: 2 } },
      },
      bots: { slow: fixtureBot('slow.ts', { concurrency: 2 }) },
    },
  });
  await waitForReadyBots(daemon, 1, 'slow');
  const mode = async () => (await daemon.call('mode.get')) as ModeView;
  t.is((await mode()).mode, 'full');

  const held = gate(tempDir(t));
  const queued: string[] = [];
  for (let i = 0; i < TASKS; i++)
    queued.push((await submit(daemon, 'slow', { payload: { gate: held.path, i } })).id);
  const degraded = await waitFor(
    async () => {
      const view = await mode();
      return view.mode === 'degraded' ? view : undefined;
    },
    { what: 'DEGRADED', timeoutMs: 10_000 },
  );
  t.is(degraded.setBy.signal, 'queueDepth[slow]');
  t.is(degraded.setBy.threshold, 6);
  t.is(degraded.kinds.find((k) => k.kind === 'slow')?.shedShare, 1);
  const bot = ((await daemon.call('bots.ls')) as { bots: BotView[] }).bots[0];
  t.is(bot?.concurrency, 1, 'concurrency 2 at factor 0.5');

  // Low priority: refused, with a code and a retry-after; nothing was persisted.
  const before = ((await daemon.call('status')) as { queue: { queued: number } }).queue.queued;
  const shed = await submit(daemon, 'slow', { priority: 9 }).then(
    () => undefined,
    (error: unknown) => error as HiveError,
  );
  t.is(shed?.code, 'HIVE_MODE_SHED');
  t.like(shed?.details, { retryAfterMs: 5_000, kind: 'slow', priority: 9 });
  t.regex(shed?.message ?? '', /DEGRADED .*retry after 5 s/);
  t.is(((await daemon.call('status')) as { queue: { queued: number } }).queue.queued, before);
  const cli = await runHive([
    'task',
    'submit',
    'slow',
    '--priority',
    '8',
    '--socket',
    daemon.socket,
  ]);
  t.is(cli.code, 1);
  t.regex(cli.stderr, /\[HIVE_MODE_SHED\]/);

  // High priority: accepted, and served before the low-priority backlog.
  const urgent = await submit(daemon, 'slow', { priority: 0 });
  held.open();
  const finished = await Promise.all([...queued, urgent.id].map((id) => waitFinal(daemon, id)));
  t.true(finished.every((task) => task.state === 'done'));
  const order = [...finished].sort(
    (a, b) => (a.history[0]?.startedAt ?? 0) - (b.history[0]?.startedAt ?? 0),
  );
  t.is(
    order.findIndex((task) => task.id === urgent.id),
    2,
    'the urgent task ran right after the two that held the bot',
  );
  const drainedAt = Math.max(...finished.map((task) => task.finishedAt ?? 0));

  const full = await waitFor(
    async () => {
      const view = await mode();
      return view.mode === 'full' ? view : undefined;
    },
    { what: 'FULL again', timeoutMs: 15_000 },
  );
  // The signal is the queued depth: it falls below exitAt when the last
  // tasks are leased, a moment before they finish, and the monitor sees it
  // at its next sample. One sampling interval of slack, no more.
  t.true(
    full.since - drainedAt >= transitionPeriodMs - 100,
    `FULL ${full.since - drainedAt} ms after the queue drained`,
  );

  const lines = readLog(daemon, 'degradation-events.jsonl').filter((l) => l.from !== undefined);
  t.deepEqual(
    lines.map((l) => `${l.from}->${l.to}`),
    ['full->degraded', 'degraded->full'],
  );
  t.like(lines[0], { signal: 'queueDepth[slow]', threshold: 6, actor: 'daemon', manual: false });
  t.true((lines[0]?.value as number) >= 6);
  // Noted without waiting for the write (audit.note): it lands within a moment.
  const trail = await waitFor(
    async () => {
      const { entries } = (await daemon.call('audit.query', { action: 'mode' })) as {
        entries: { details: { to: string } }[];
      };
      return entries.length >= 2 ? entries : undefined;
    },
    { what: 'both mode.changed entries' },
  );
  t.deepEqual(
    trail.map((e) => e.details.to).reverse(),
    ['degraded', 'full'],
    'both transitions are in the audit trail',
  );
  const again = await getTask(daemon, urgent.id);
  t.is(again.priority, 0);
});
