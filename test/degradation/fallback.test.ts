import test from 'ava';
import type { AlertView, HealthView, ModeView } from '../../protocol/health.ts';
import { fixtureBot, runHive, startDaemon, waitFor } from '../helpers/daemon.ts';
import { bot, readLog, submit, waitFinal } from '../helpers/fleet.ts';

test('a primary pool in a crash loop: its tasks complete on the fallback kind, each recording the reroute; the pool turns CRITICAL', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      supervision: { tickMs: 50 },
      degradation: { intervalMs: 100 },
      bots: {
        primary: fixtureBot('crash-at-start.ts', {
          fallback: 'spare',
          restart: { initialDelayMs: 20, maxDelayMs: 50, maxRestarts: 2, windowMs: 60_000 },
        }),
        spare: fixtureBot('slow.ts', { taskTypes: ['spare'] }),
      },
    },
  });
  // Crashed at least once: from then on the pool has no healthy bot.
  await waitFor(async () => (await bot(daemon, 'primary-0')).restarts >= 1, {
    what: 'primary-0 to crash',
  });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await submit(daemon, 'primary', { payload: { i } })).id);
  for (const id of ids) {
    const task = await waitFinal(daemon, id);
    t.is(task.state, 'done');
    t.is((task.result as { bot: string }).bot, 'spare-0');
    const attempt = task.history.at(-1) as (typeof task.history)[number] & {
      reroute?: { from: string; to: string; reason: string };
    };
    t.like(attempt.reroute, { from: 'primary', to: 'spare' });
    t.regex(
      attempt.reroute?.reason ?? '',
      /primary has no healthy bot: every bot (failed|failed or crashing)/,
    );
  }

  // Given up after the crash loop: the failed-bot alert fires, health is CRITICAL.
  await waitFor(async () => (await bot(daemon, 'primary-0')).state === 'failed', {
    what: 'primary-0 failed',
  });
  const health = await waitFor(
    async () => {
      const view = (await daemon.call('health.get')) as HealthView;
      return view.state === 'critical' ? view : undefined;
    },
    { what: 'CRITICAL health' },
  );
  t.like(
    health.components.find((c) => c.name === 'bots:primary'),
    { state: 'critical', alerts: ['botFailed'] },
  );
  t.like(
    health.components.find((c) => c.name === 'bots:spare'),
    { state: 'healthy' },
  );
  const { alerts } = (await daemon.call('alerts.ls')) as { alerts: AlertView[] };
  t.like(
    alerts.find((a) => a.name === 'botFailed'),
    { state: 'firing', severity: 'critical', labels: { kind: 'primary', state: 'failed' } },
  );
  const mode = (await daemon.call('mode.get')) as ModeView;
  t.like(mode.kinds.find((k) => k.kind === 'primary')?.routedTo, { kind: 'spare' });

  const cli = await runHive(['health', '--socket', daemon.socket]);
  t.is(cli.code, 0);
  t.regex(cli.stdout, /health: CRITICAL/);
  t.regex(cli.stdout, /\[critical\] botFailed \(bots:primary\)/);
  const listed = await runHive(['alerts', 'ls', '--socket', daemon.socket]);
  t.regex(listed.stdout, /botFailed\s+firing\s+critical\s+bots:primary/);

  await waitFor(() => readLog(daemon, 'health-alerts.jsonl').some((l) => l.event === 'firing'), {
    what: 'the firing line in health-alerts.jsonl',
  });
  const trail = await waitFor(
    async () => {
      const { entries } = (await daemon.call('audit.query', { action: 'alert' })) as {
        entries: { action: string; target: string; severity: string }[];
      };
      return entries[0];
    },
    { what: 'the alert.firing entry' },
  );
  t.like(trail, { action: 'alert.firing', target: 'botFailed', severity: 'critical' });
});
