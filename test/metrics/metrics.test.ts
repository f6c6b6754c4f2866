import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { lintMetricName, METRIC_BY_NAME, METRICS } from '../../daemon/metrics/catalogue.ts';
import {
  echoBot,
  ROOT,
  startDaemon,
  waitFor,
  waitForReadyBots,
  writeConfig,
} from '../helpers/daemon.ts';
import { submit, waitFinal } from '../helpers/fleet.ts';

const promtool = spawnSync('promtool', ['--version']).status === 0;

/** Family name → type, from the # TYPE lines of a scrape. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    out.set(match[1] ?? '', match[2] ?? '');
  return out;
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics on a live daemon: every catalogue family, names pass the lint (and promtool), values follow the work', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      http: { port: 0 },
      degradation: { intervalMs: 200 },
      bots: { echo: echoBot() },
    },
  });
  await waitForReadyBots(daemon, 1, 'echo');
  const { http } = (await daemon.call('status')) as {
    http: { listening: { host: string; port: number } | null };
  };
  t.is(http.listening?.host, '127.0.0.1', 'loopback only by default');
  const base = `http://127.0.0.1:${http.listening?.port}`;
  const { id } = await submit(daemon, 'echo', { payload: { x: 1 } });
  await waitFinal(daemon, id);
  await daemon.call('msg.send', { to: 'echo', body: { hello: 1 } });

  const response = await fetch(`${base}/metrics`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const found = families(text);
  for (const metric of METRICS) t.is(found.get(metric.name), metric.type, metric.name);
  t.true(found.has('process_cpu_seconds_total'), "prom-client's process metrics");
  for (const [name, type] of found) t.deepEqual(lintMetricName(name, type), [], name);

  t.is(sample(text, 'hive_tasks_finished_total{type="echo",outcome="done"}'), 1);
  t.is(sample(text, 'hive_tasks_submitted_total{type="echo"}'), 1);
  t.is(sample(text, 'hive_task_run_duration_seconds_count{type="echo",outcome="done"}'), 1);
  t.is(sample(text, 'hive_messages_sent_total'), 1);
  const messages = ['queued', 'delivered', 'acked', 'expired', 'dead'].reduce(
    (sum, state) => sum + (sample(text, `hive_messages{state="${state}"}`) ?? 0),
    0,
  );
  t.is(messages, 1, 'the message, in whatever state it has reached');
  t.is(sample(text, 'hive_mode{mode="full"}'), 1);
  t.is(sample(text, 'hive_bots{kind="echo",state="ready"}'), 1);
  t.true((sample(text, 'hive_bot_resident_memory_bytes{kind="echo",bot="echo-0"}') ?? 0) > 1e6);
  t.true(
    (sample(text, 'hive_store_write_duration_seconds_count') ?? 0) >= 3,
    'submit, lease, done',
  );
  t.true((sample(text, 'hive_audit_write_duration_seconds_count') ?? 0) >= 1);
  t.is(sample(text, 'hive_audit_sink_up'), 1);
  t.is(sample(text, 'hive_health_state{state="healthy"}'), 1);
  // No label carries an id: pids and task ids never appear as label values.
  t.notRegex(text, /(pid|id|task)="/);

  if (promtool) {
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    t.is(checked.status, 0, checked.stdout + checked.stderr);
    t.is(checked.stdout.trim(), '', 'no lint findings');
  } else {
    t.log('promtool not installed: the exposition was checked by the name lint only');
  }

  t.is((await fetch(`${base}/nope`)).status, 404);
  t.is((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
  t.is(head.status, 200);
});

test('ops/: the alert rules pass promtool, and every metric the rules and the dashboard name exists', (t) => {
  const rules = `${ROOT}ops/prometheus/hive-alerts.yml`;
  const config = `${ROOT}ops/prometheus/prometheus.yml`;
  const dashboard = `${ROOT}ops/grafana/hive-dashboard.json`;
  const named = new Set<string>();
  for (const file of [rules, dashboard])
    for (const m of readFileSync(file, 'utf8').matchAll(/\bhive_[a-z0-9_]+/g))
      named.add((m[0] ?? '').replace(/_(bucket|sum|count)$/, ''));
  t.true(named.size >= 15);
  for (const name of named) t.true(METRIC_BY_NAME.has(name), `${name} is in the catalogue`);
  const panels = (JSON.parse(readFileSync(dashboard, 'utf8')) as { panels: unknown[] }).panels;
  t.true(panels.length >= 10);
  if (!promtool) {
    t.log('promtool not installed: rules not checked');
    return;
  }
  for (const args of [
    ['check', 'rules', rules],
    ['check', 'config', config],
  ]) {
    const checked = spawnSync('promtool', args, { encoding: 'utf8' });
    t.is(checked.status, 0, `promtool ${args.join(' ')}: ${checked.stdout}${checked.stderr}`);
  }
});

test('the HTTP server follows a config reload (off, then on); processMetrics waits for a restart', async (t) => {
  // Not watched: the explicit reload below must be the one that applies the change.
  const config = { config: { watch: false }, http: { enabled: false }, bots: { echo: echoBot() } };
  const daemon = await startDaemon(t, { config });
  const listening = async () =>
    ((await daemon.call('status')) as { http: { listening: { port: number } | null } }).http
      .listening;
  t.is(await listening(), null);
  writeConfig(daemon.stateDir, {
    ...config,
    http: { enabled: true, port: 0 },
    metrics: { processMetrics: false },
  });
  const record = (await daemon.call('config.reload')) as {
    outcome: string;
    restartRequired: { key: string }[];
  };
  t.is(record.outcome, 'applied');
  t.deepEqual(
    record.restartRequired.map((c) => c.key),
    ['metrics.processMetrics'],
  );
  const bound = await waitFor(listening, { what: 'the server to listen' });
  const text = await (await fetch(`http://127.0.0.1:${bound.port}/metrics`)).text();
  t.regex(text, /^hive_mode\{mode="full"\} 1$/m);
});
