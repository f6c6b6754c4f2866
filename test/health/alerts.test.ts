import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { ConfigSchema } from '../../daemon/config/schema.ts';
import { AlertEngine } from '../../daemon/health/alerts.ts';
import { Health } from '../../daemon/health/health.ts';
import { type Rule, resolveRules } from '../../daemon/health/rules.ts';
import { LogHub } from '../../daemon/logs/log-hub.ts';
import type { Series } from '../../daemon/metrics/telemetry.ts';
import { tempDir, waitFor } from '../helpers/daemon.ts';

const SECOND = 1000;

function rule(overrides: Partial<Rule> = {}): Rule {
  return {
    name: 'lag',
    metric: 'hive_event_loop_delay_p99_seconds',
    labels: {},
    op: '>',
    threshold: 0.5,
    forMs: 10 * SECOND,
    keepFiringForMs: 5 * SECOND,
    severity: 'warning',
    component: 'daemon',
    group: 'default',
    summary: 'lag {value}',
    ...overrides,
  };
}

/** Evaluates one value per second; returns the states after each and the events. */
function drive(engine: AlertEngine, values: number[], start = 0) {
  const states: string[] = [];
  const events: string[] = [];
  values.forEach((value, i) => {
    const readings = new Map([['hive_event_loop_delay_p99_seconds', [{ labels: {}, value }]]]);
    for (const e of engine.evaluate(readings, start + i * SECOND)) events.push(`${e.type}@${i}`);
    states.push(engine.active()[0]?.state ?? 'inactive');
  });
  return { states, events };
}

test('for: pending until the condition held that long; a one-sample spike never fires, even with for 0', (t) => {
  const engine = new AlertEngine([rule()], { resolvedKept: 10 });
  const { states, events } = drive(engine, [0, 1, 1, 1, 0, 1, ...Array(12).fill(1)]);
  t.deepEqual(states.slice(0, 5), ['inactive', 'pending', 'pending', 'pending', 'inactive']);
  // Pending again from sample 5; fires once it has held 10 s: sample 15.
  t.deepEqual(events, ['firing@15']);

  const eager = new AlertEngine([rule({ forMs: 0 })], { resolvedKept: 10 });
  const spikes = drive(eager, [0, 1, 0, 1, 0, 1, 0, 1, 0]);
  t.deepEqual(spikes.events, [], 'single-sample spikes never fire');
  t.deepEqual(drive(eager, [1, 1], 20 * SECOND).events, ['firing@1'], 'two in a row do');
});

test('keepFiringFor: a one-sample dip does not resolve; resolved only after the condition stayed false', (t) => {
  const engine = new AlertEngine([rule({ forMs: 0, keepFiringForMs: 5 * SECOND })], {
    resolvedKept: 10,
  });
  const run = drive(engine, [1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  t.deepEqual(run.events, ['firing@1', 'resolved@9']);
  t.deepEqual(run.states.slice(1, 9), Array(8).fill('firing'), 'held through the dips');
  const [resolved] = engine.resolved();
  t.like(resolved, { name: 'lag', state: 'resolved', firedAt: 1 * SECOND, resolvedAt: 9 * SECOND });

  const quick = new AlertEngine([rule({ forMs: 0, keepFiringForMs: 0 })], { resolvedKept: 10 });
  t.deepEqual(
    drive(quick, [1, 1, 0, 1, 0, 0]).events,
    ['firing@1', 'resolved@5'],
    'a lone dip is one sample',
  );
});

test('a counter rule compares the increase over its window (dead-letter growth), per series', (t) => {
  const rules = resolveRules(
    ConfigSchema.parse({
      health: {
        rules: { deadLetters: { threshold: 3, windowMs: 10 * SECOND, keepFiringForMs: 0 } },
      },
    }).health,
  ).filter((r) => r.name === 'deadLetters');
  const engine = new AlertEngine(rules, { resolvedKept: 10 });
  const dead = (a: number, b: number): Map<string, Series[]> =>
    new Map([
      [
        'hive_tasks_finished_total',
        [
          { labels: { type: 'a', outcome: 'dead' }, value: a },
          { labels: { type: 'b', outcome: 'dead' }, value: b },
          { labels: { type: 'a', outcome: 'done' }, value: 1000 },
        ],
      ],
    ]);
  const fired: string[] = [];
  // a: 1 dead letter a second for 4 s then none; b: one in total.
  for (let s = 0; s <= 30; s++) {
    for (const e of engine.evaluate(dead(Math.min(s, 4), 1), s * SECOND))
      fired.push(`${e.type} ${e.alert.labels.type}@${s}`);
  }
  // a: 3 within the window at 3 s (pending), 4 at 4 s (fires: two samples); at 12 s the window
  // (2..12 s) holds 2, at 13 s 1: two false samples, resolved.
  t.deepEqual(
    fired,
    ['firing a@4', 'resolved a@13'],
    'b never grew by 3; a fell out of the window',
  );
  t.is(engine.resolved()[0]?.summary, '1 a tasks dead-lettered within 10 s', 'the last value seen');
});

test('health rolls firing alerts up per component; events go to health-alerts.jsonl and the webhook, retried', async (t) => {
  const received: { status: string; alert: { name: string } }[] = [];
  let refusals = 1;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      if (refusals-- > 0) {
        res.writeHead(503).end();
        return;
      }
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const dir = tempDir(t);
  const logs = new LogHub({
    dir,
    level: 'info',
    console: 'off',
    tailMaxBytes: 1 << 20,
    flushTimeoutMs: 1000,
  });
  const clock = { t: 0, now: () => clock.t };
  const config = ConfigSchema.parse({
    health: {
      rules: { botFailed: { group: 'pager' } },
      webhooks: { pager: { url: `http://127.0.0.1:${port}/hook`, initialDelayMs: 50 } },
    },
  }).health;
  let failed = 1;
  const health = new Health(
    { config },
    {
      clock,
      log: logs.part('health'),
      read: () =>
        new Map([
          ['hive_bots', [{ labels: { kind: 'echo', state: 'failed' }, value: failed }]],
          ['hive_queue_oldest_age_seconds', [{ labels: { kind: 'echo' }, value: 500 }]],
        ]),
      components: () => ['bots:echo'],
    },
  );
  t.teardown(() => health.close());
  const step = () => {
    clock.t += SECOND;
    return health.evaluate();
  };
  step();
  t.is(health.state, 'healthy', 'pending is not firing');
  step();
  t.is(health.state, 'critical');
  const view = health.view();
  t.like(
    view.components.find((c) => c.name === 'bots:echo'),
    { state: 'critical', alerts: ['botFailed'] },
  );
  t.like(
    view.components.find((c) => c.name === 'queue'),
    { state: 'healthy' },
    'queueAge waits for its 60 s',
  );
  for (let i = 0; i < 60; i++) step();
  t.like(
    health.view().components.find((c) => c.name === 'queue'),
    { state: 'degraded' },
  );
  failed = 0;
  step();
  step();
  t.is(health.view().components.find((c) => c.name === 'bots:echo')?.state, 'healthy');

  await waitFor(() => received.length >= 2, { what: 'both webhook events' });
  t.deepEqual(
    received.map((r) => `${r.status} ${r.alert.name}`),
    ['firing botFailed', 'resolved botFailed'],
    'in order, the first after a retry; queueAge is not in the pager group',
  );
  await logs.close();
  const lines = (await import('node:fs')).readFileSync(`${dir}/health-alerts.jsonl`, 'utf8');
  const events = lines
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event?: string; name?: string })
    .filter((l) => l.event);
  t.deepEqual(
    events.map((e) => `${e.event} ${e.name}`),
    ['firing botFailed', 'firing queueAge', 'resolved botFailed'],
  );
});
