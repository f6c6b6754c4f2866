/**
 * `npm run bench`: every benchmark of issue 2 against real daemons on temp
 * state directories, each beside a peer doing the same job in the same run.
 * Prints a table, writes bench/results/<date>.json (and latest.json).
 *
 * Flags:
 *   --only a,b     run some benchmarks: status, roundtrip, restart, rss,
 *                  throughput, submit, config, recovery, audit, degradation,
 *                  messaging, scheduler, deploy, web (default: all)
 *   --no-pm2       skip the pm2 peer
 *   --cpu-prof     run the throughput daemon under --cpu-prof (profile in bench/results/)
 *
 * Targets are measured, not asserted: the exit code is non-zero only when a
 * benchmark broke or a process outlived the run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type AuditBenchResult, benchAudit } from './audit.ts';
import { benchConfigReload, type ConfigReloadResult } from './config-reload.ts';
import { benchDegradation, type DegradationBenchResult } from './degradation.ts';
import { benchDeploy, type DeployBenchResult } from './deploy.ts';
import {
  type Daemon,
  exitOf,
  HIVE,
  HIVED,
  killEverything,
  markedProcesses,
  NODE,
  type PhaseLoad,
  phaseLoad,
  ROOT,
  round,
  rssMb,
  sleep,
  startDaemon,
  startSpinners,
  track,
  waitForQuiet,
} from './lib.ts';
import { describeMachine } from './machine.ts';
import { benchMessaging, type MessagingBenchResult } from './messaging.ts';
import { type Pm2Peer, startPm2 } from './pm2.ts';
import { benchRecovery, type RecoveryBenchResult } from './recovery.ts';
import { benchRestart, type RestartResult } from './restart.ts';
import { benchRoundTrip, type RoundTripResult } from './roundtrip.ts';
import { type RssResult, sampleRss, startNodeFloor } from './rss.ts';
import { benchScheduler, type SchedulerBenchResult } from './scheduler.ts';
import { benchStatus, type StatusResult } from './status.ts';
import {
  benchSubmitAck,
  benchThroughput,
  type SubmitAckResult,
  type ThroughputResult,
} from './throughput.ts';
import { benchWeb, cpuRatio, type WebBenchResult } from './web.ts';

const ALL = [
  'status',
  'roundtrip',
  'restart',
  'rss',
  'throughput',
  'submit',
  'config',
  'recovery',
  'audit',
  'degradation',
  'messaging',
  'scheduler',
  'deploy',
  'web',
] as const;
type BenchName = (typeof ALL)[number];

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    'no-pm2': { type: 'boolean' },
    'cpu-prof': { type: 'boolean' },
  },
});
const selected = new Set<BenchName>(
  flags.only
    ? (flags.only.split(',').filter((n) => (ALL as readonly string[]).includes(n)) as BenchName[])
    : ALL,
);
const RESULTS = join(ROOT, 'bench', 'results');
mkdirSync(RESULTS, { recursive: true });

const machineCores = () => cpus().length;

const RESTART_POLICY = { initialDelayMs: 100, resetAfterMs: 1000 };

/** Machine CPU busy % (100 = one core) right before each phase, from other work. */
const background: Record<string, number> = {};
/** CPU of other work on the machine during each phase (this run's own CPU subtracted). */
const during: Record<string, PhaseLoad> = {};

/** Waits for a quiet machine, runs a phase, records how much other work shared it. */
async function phase(name: string, run: () => Promise<void>): Promise<void> {
  const busy = await waitForQuiet(25, 15_000);
  background[name] = busy;
  if (busy > 25)
    log(
      `warning: the machine is busy (${busy}% CPU from other work) before ${name}; numbers will be noisy`,
    );
  const load = phaseLoad();
  try {
    await run();
  } finally {
    during[name] = load();
    const other = during[name]?.otherPercent ?? 0;
    if (other > 25)
      log(`warning: other work took ${other}% CPU during ${name}; its numbers are noisy`);
  }
}

interface Results {
  status?: StatusResult;
  roundTrip?: RoundTripResult[];
  /** The same with niced busy loops keeping every vCPU awake (diagnostic). */
  roundTripAwake?: RoundTripResult[];
  restart?: RestartResult;
  rss?: RssResult;
  throughput?: ThroughputResult;
  submitAck?: SubmitAckResult;
  configReload?: ConfigReloadResult;
  recovery?: RecoveryBenchResult;
  audit?: AuditBenchResult;
  degradation?: DegradationBenchResult;
  messaging?: MessagingBenchResult;
  scheduler?: SchedulerBenchResult;
  deploy?: DeployBenchResult;
  web?: WebBenchResult;
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function phaseIdle(results: Results): Promise<void> {
  const wantIdle = ['status', 'roundtrip', 'restart', 'rss'].some((n) =>
    selected.has(n as BenchName),
  );
  if (!wantIdle) return;
  await phase('idle phase', () => idleBenchmarks(results));
}

async function idleBenchmarks(results: Results): Promise<void> {
  const floor = startNodeFloor();
  let pm2: Pm2Peer | undefined;
  let daemon: Daemon | undefined;
  try {
    if (!flags['no-pm2'] && (selected.has('status') || selected.has('rss'))) {
      log('starting the pm2 peer (God daemon + 4 idle apps)');
      pm2 = await startPm2(4);
    }
    log('starting hived with 4 echo bots');
    daemon = await startDaemon({ echo: { restart: RESTART_POLICY } });
    const readyAt = performance.now();

    if (selected.has('rss')) {
      // 3 s after every bot is ready: start-up garbage and the registry writes settle.
      await sleep(Math.max(0, 3000 - (performance.now() - readyAt)));
      log('sampling idle RSS');
      const [hived, nodeFloor, pm2God] = await Promise.all([
        sampleRss(daemon.pid),
        sampleRss(floor.pid),
        pm2 ? sampleRss(pm2.godPid) : Promise.resolve(undefined),
      ]);
      const bots = (await daemon.status()).bots.flatMap((b) => (b.pid ? [b.pid] : []));
      results.rss = {
        settleMs: 3000,
        hived,
        nodeFloor,
        ...(pm2God ? { pm2God } : {}),
        botsRssMb: bots.map((pid) => round(rssMb(pid) ?? Number.NaN, 1)),
      };
    }
    if (selected.has('status')) {
      log('hive status vs node -e 0 (40 runs each, interleaved)');
      results.status = await benchStatus({
        stateDir: daemon.stateDir,
        runs: 40,
        ...(pm2 ? { pm2 } : {}),
      });
    }
    if (pm2) {
      await pm2.stop();
      pm2 = undefined;
    }
    if (selected.has('roundtrip')) {
      log('round trips: commands, task.get (missing id), status; hived vs raw net');
      results.roundTrip = await benchRoundTrip({
        socket: daemon.socket,
        requests: [
          { cmd: 'commands', args: {} },
          { cmd: 'task.get', args: { id: 'tmissing' } },
          { cmd: 'status', args: {} },
        ],
        perCommand: 20_000,
      });
      log('round trips again with the vCPUs kept awake (diagnostic)');
      const stopSpinners = startSpinners(machineCores());
      try {
        results.roundTripAwake = await benchRoundTrip({
          socket: daemon.socket,
          requests: [{ cmd: 'commands', args: {} }],
          perCommand: 10_000,
        });
      } finally {
        await stopSpinners();
      }
    }
    if (selected.has('restart')) {
      log('bot SIGKILL → replacement ready (10 kills)');
      results.restart = await benchRestart(daemon, { kills: 10, ...RESTART_POLICY });
    }
  } finally {
    await daemon?.stop();
    await pm2?.stop();
    await floor.stop();
  }
}

async function phaseThroughput(results: Results): Promise<void> {
  if (!selected.has('throughput')) return;
  await phase('throughput', () => throughputBenchmark(results));
}

async function throughputBenchmark(results: Results): Promise<void> {
  log('durable submit + dispatch + result through 4 echo bots');
  const daemon = await startDaemon({
    ...(flags['cpu-prof'] ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', RESULTS] } : {}),
  });
  try {
    results.throughput = await benchThroughput(daemon, {
      clients: 8,
      window: 16,
      warmupMs: 1500,
      measureMs: 6000,
      botConcurrency: 8,
    });
    if (selected.has('rss')) {
      await sleep(2000);
      const after = await sampleRss(daemon.pid);
      if (results.rss) results.rss.hivedAfterLoad = after;
    }
  } finally {
    await daemon.stop();
  }
}

async function phaseSubmit(results: Results): Promise<void> {
  if (!selected.has('submit')) return;
  await phase('submit', () => submitBenchmark(results));
}

async function submitBenchmark(results: Results): Promise<void> {
  log('submit acknowledgement with 10,000 tasks queued (bots scaled to 0)');
  const daemon = await startDaemon();
  try {
    results.submitAck = await benchSubmitAck(daemon, {
      queued: 10_000,
      clients: 8,
      submitsPerClient: 250,
    });
  } finally {
    await daemon.stop();
  }
}

async function phaseConfig(results: Results): Promise<void> {
  if (!selected.has('config')) return;
  await phase('config', async () => {
    log('config file landed → applied (40 queue-key saves, 40 scale saves)');
    const daemon = await startDaemon();
    try {
      results.configReload = await benchConfigReload(daemon, { samples: 40 });
    } finally {
      await daemon.stop();
    }
  });
}

async function phaseRecovery(results: Results): Promise<void> {
  if (!selected.has('recovery')) return;
  await phase('recovery', async () => {
    log('backup, restore and verify of 100,000 tasks and 1,000 bot records (in-process)');
    results.recovery = await benchRecovery({ runs: 5, log });
  });
}

async function phaseAudit(results: Results): Promise<void> {
  if (!selected.has('audit')) return;
  await phase('audit', async () => {
    results.audit = await benchAudit({
      appendSeconds: 5,
      inFlight: 256,
      corpusEntries: 1_000_000,
      queryRuns: 40,
      log,
    });
  });
}

async function phaseDegradation(results: Results): Promise<void> {
  if (!selected.has('degradation')) return;
  await phase('degradation', async () => {
    results.degradation = await benchDegradation({
      monitorSeconds: 20,
      crossings: 8,
      renders: 100,
      log,
    });
  });
}

async function phaseMessaging(results: Results): Promise<void> {
  if (!selected.has('messaging')) return;
  await phase('messaging', async () => {
    results.messaging = await benchMessaging({ count: 50_000, window: 512, log });
  });
}

async function phaseDeploy(results: Results): Promise<void> {
  if (!selected.has('deploy')) return;
  await phase('deploy', async () => {
    results.deploy = await benchDeploy({ baselineSeconds: 5, stepSeconds: 4, log });
  });
}

async function phaseScheduler(results: Results): Promise<void> {
  if (!selected.has('scheduler')) return;
  await phase('scheduler', async () => {
    results.scheduler = await benchScheduler({ log });
  });
}

async function phaseWeb(results: Results): Promise<void> {
  if (!selected.has('web')) return;
  await phase('web', async () => {
    results.web = await benchWeb({ log });
  });
}

// ---------------------------------------------------------------------------
// Report

interface Row {
  metric: string;
  value: number;
  unit: string;
  target?: { op: '<=' | '>='; value: number; text: string };
  peers?: { name: string; value: number }[];
}

function rows(results: Results): Row[] {
  const out: Row[] = [];
  const {
    status,
    roundTrip,
    roundTripAwake,
    throughput,
    submitAck,
    restart,
    rss,
    configReload,
    recovery,
    audit,
    degradation,
    messaging,
    scheduler,
    deploy,
  } = results;
  if (status) {
    const limit = status.nodeBaselineMs.median * 1.5;
    const peers = [{ name: 'node -e 0', value: status.nodeBaselineMs.median }];
    if (status.pm2JlistMs) peers.push({ name: 'pm2 jlist', value: status.pm2JlistMs.median });
    out.push({
      metric: '1. hive status, median',
      value: status.hiveStatusMs.median,
      unit: 'ms',
      target: { op: '<=', value: limit, text: `≤ 1.5× node -e 0 = ${limit.toFixed(1)} ms` },
      peers,
    });
    const p95Peers = [{ name: 'node -e 0', value: status.nodeBaselineMs.p95 }];
    if (status.pm2JlistMs) p95Peers.push({ name: 'pm2 jlist', value: status.pm2JlistMs.p95 });
    out.push({
      metric: '1. hive status, p95',
      value: status.hiveStatusMs.p95,
      unit: 'ms',
      peers: p95Peers,
    });
    out.push({
      metric: '1. (where it goes) ESM + import node:net',
      value: status.breakdownMs.importNet.median,
      unit: 'ms',
      peers: [{ name: 'node -e 0', value: status.nodeBaselineMs.median }],
    });
    out.push({
      metric: '1. (where it goes) load client modules only',
      value: status.breakdownMs.loadClientModules.median,
      unit: 'ms',
      peers: [{ name: 'node -e 0', value: status.nodeBaselineMs.median }],
    });
  }
  for (const rt of roundTrip ?? []) {
    const name = `2. round trip ${rt.command}${rt.command === 'task.get' ? ' (missing id)' : ''}`;
    const primary = rt.command === 'commands';
    out.push({
      metric: `${name}, p50`,
      value: rt.hived.latencyMs.median,
      unit: 'ms',
      ...(primary ? { target: { op: '<=' as const, value: 0.2, text: '≤ 0.2 ms' } } : {}),
      peers: [{ name: 'raw net', value: rt.rawNet.latencyMs.median }],
    });
    out.push({
      metric: `${name}, p99`,
      value: rt.hived.latencyMs.p99,
      unit: 'ms',
      peers: [{ name: 'raw net', value: rt.rawNet.latencyMs.p99 }],
    });
    out.push({
      metric: `${name}, rate`,
      value: rt.hived.requestsPerSecond,
      unit: 'req/s',
      ...(primary ? { target: { op: '>=' as const, value: 20_000, text: '≥ 20,000 req/s' } } : {}),
      peers: [{ name: 'raw net', value: rt.rawNet.requestsPerSecond }],
    });
  }
  for (const rt of roundTripAwake ?? []) {
    out.push({
      metric: `2. round trip ${rt.command}, vCPUs kept awake, p50`,
      value: rt.hived.latencyMs.median,
      unit: 'ms',
      peers: [{ name: 'raw net', value: rt.rawNet.latencyMs.median }],
    });
    out.push({
      metric: `2. round trip ${rt.command}, vCPUs kept awake, rate`,
      value: rt.hived.requestsPerSecond,
      unit: 'req/s',
      peers: [{ name: 'raw net', value: rt.rawNet.requestsPerSecond }],
    });
  }
  if (throughput) {
    out.push({
      metric: '3. durable tasks through 4 echo bots',
      value: throughput.tasksPerSecond,
      unit: 'tasks/s',
      target: { op: '>=', value: 3000, text: '≥ 3,000 tasks/s' },
    });
    out.push({
      metric: '3. hived CPU per task (submit+lease+done)',
      value: throughput.hivedCpuUsPerTask,
      unit: 'µs',
    });
  }
  if (submitAck) {
    out.push({
      metric: '3. submit ack p99, 10k queued, 8 clients',
      value: submitAck.ackMs.p99,
      unit: 'ms',
      target: { op: '<=', value: 25, text: '≤ 25 ms' },
    });
    out.push({
      metric: '3. submit only (no bots): rate, 8 clients',
      value: submitAck.fillRate,
      unit: 'submits/s',
    });
    out.push({
      metric: '3. submit only: hived CPU per submit',
      value: submitAck.fillCpuUsPerSubmit,
      unit: 'µs',
    });
    out.push({
      metric: '3. submit ack p99, 10k queued, 1 client',
      value: submitAck.singleClientAckMs.p99,
      unit: 'ms',
    });
  }
  if (restart) {
    out.push({
      metric: '4. bot SIGKILL → replacement ready, median',
      value: restart.killToReadyMs.median,
      unit: 'ms',
      target: { op: '<=', value: 300, text: '≤ 300 ms' },
    });
  }
  if (rss) {
    const peers = [{ name: 'node idle', value: rss.nodeFloor.rssMb }];
    if (rss.pm2God) peers.push({ name: 'pm2 God + 4 apps', value: rss.pm2God.rssMb });
    out.push({
      metric: '5. hived idle RSS, 4 bots',
      value: rss.hived.rssMb,
      unit: 'MB',
      target: { op: '<=', value: 70, text: '≤ 70 MB' },
      peers,
    });
    const anonPeers = [{ name: 'node idle', value: rss.nodeFloor.anonMb }];
    if (rss.pm2God) anonPeers.push({ name: 'pm2 God + 4 apps', value: rss.pm2God.anonMb });
    out.push({
      metric: '5. hived idle RssAnon (private memory)',
      value: rss.hived.anonMb,
      unit: 'MB',
      peers: anonPeers,
    });
    if (rss.hivedAfterLoad) {
      out.push({
        metric: '5. hived idle RSS after the load run',
        value: rss.hivedAfterLoad.rssMb,
        unit: 'MB',
      });
    }
  }
  if (configReload) {
    const target = { op: '<=' as const, value: 200, text: '≤ 200 ms' };
    out.push(
      {
        metric: '6. config landed → applied (queue key), median',
        value: configReload.queueKeyMs.median,
        unit: 'ms',
      },
      {
        metric: '6. config landed → applied (queue key), p95',
        value: configReload.queueKeyMs.p95,
        unit: 'ms',
        target,
      },
      {
        metric: '6. config landed → applied (instances), median',
        value: configReload.scaleMs.median,
        unit: 'ms',
      },
      {
        metric: '6. config landed → applied (instances), p95',
        value: configReload.scaleMs.p95,
        unit: 'ms',
        target,
      },
      {
        metric: '6. config landed → new bot ready, median',
        value: configReload.scaleToReadyMs.median,
        unit: 'ms',
      },
      {
        metric: '6. hived time per load (read, validate, apply), median',
        value: configReload.loadMs.median,
        unit: 'ms',
      },
    );
  }
  if (recovery) out.push(...recoveryRows(recovery));
  if (audit) out.push(...auditRows(audit));
  if (degradation) out.push(...degradationRows(degradation));
  if (messaging) out.push(...messagingRows(messaging));
  if (scheduler) out.push(...schedulerRows(scheduler));
  if (deploy) out.push(...deployRows(deploy));
  if (results.web) out.push(...webRows(results.web));
  return out;
}

function degradationRows(d: DegradationBenchResult): Row[] {
  const m = d.monitor;
  const histogram = Math.max(0, m.loopHistogramCpuPercent.with - m.loopHistogramCpuPercent.without);
  return [
    {
      metric: `11. monitor overhead at 1 s, ${m.bots} bots (sampling + event-loop histogram)`,
      value: m.sampleCpuPercent + histogram,
      unit: '% of a core',
      target: { op: '<=', value: 1, text: '≤ 1 % of a core' },
    },
    { metric: '11. (of which) one sample, measured inside hived', value: m.sampleMs, unit: 'ms' },
    {
      metric: `11. hived CPU, ${m.bots} idle bots, sampling every second`,
      value: m.hivedCpuPercent.sampling,
      unit: '% of a core',
      peers: [{ name: 'sampling hourly', value: m.hivedCpuPercent.idle }],
    },
    {
      metric: `11. signal crossing -> mode change (N=${d.crossing.samplesInARow}, 1 s), max of ${d.crossing.latencyMs.n}`,
      value: d.crossing.latencyMs.max,
      unit: 'ms',
      target: { op: '<=', value: d.crossing.targetMs, text: `≤ ${d.crossing.targetMs} ms` },
    },
    {
      metric: '11. signal crossing -> mode change, median',
      value: d.crossing.latencyMs.median,
      unit: 'ms',
    },
    {
      metric: `11. /metrics render, ${d.render.bots} bots (${d.render.series} series), p95`,
      value: d.render.ms.p95,
      unit: 'ms',
      target: { op: '<=', value: 20, text: '≤ 20 ms' },
    },
    { metric: '11. /metrics render, 50 bots, median', value: d.render.ms.median, unit: 'ms' },
  ];
}

function deployRows(d: DeployBenchResult): Row[] {
  const worst = Math.max(...d.steps.map((s) => s.dipPercent));
  return [
    {
      metric: `12. throughput dip during a shift step, worst of ${d.steps.length} (${d.ratePerSecond}/s offered, 4 bots)`,
      value: worst,
      unit: '%',
      target: { op: '<=', value: 10, text: '≤ 10 %' },
    },
    ...d.steps.map((s) => ({
      metric: `12. completions/s at ${s.weight}% green (${s.seconds} s)`,
      value: s.perSecond,
      unit: 'tasks/s',
      peers: [{ name: 'baseline', value: d.baselinePerSecond }],
    })),
    {
      metric: `12. tasks failed or lost of ${d.submitted.toLocaleString('en-US')} during the deployment`,
      value: d.failedOrLost,
      unit: 'tasks',
      target: { op: '<=', value: 0, text: '0' },
    },
    {
      metric: '12. abort → every new task on blue (last green lease after the request)',
      value: d.abort.toBlueMs,
      unit: 'ms',
      target: { op: '<=', value: 1000, text: '≤ 1 s' },
    },
    {
      metric: '12. abort command incl. green drain and stop',
      value: d.abort.commandMs,
      unit: 'ms',
    },
  ];
}

function messagingRows(m: MessagingBenchResult): Row[] {
  return [
    {
      metric: '9. persisted messages between two bots (send, deliver, ack journaled)',
      value: m.throughput.messagesPerSecond,
      unit: 'msg/s',
      target: { op: '>=', value: 10_000, text: '≥ 10,000 msg/s' },
    },
    {
      metric: '9. hived CPU per message',
      value: m.throughput.hivedCpuUsPerMessage,
      unit: 'µs',
    },
    {
      metric: `9. delivery latency at ${m.paced.rate.toLocaleString('en-US')} msg/s, p50`,
      value: m.paced.latencyMs.p50,
      unit: 'ms',
    },
    {
      metric: `9. delivery latency at ${m.paced.rate.toLocaleString('en-US')} msg/s, p99`,
      value: m.paced.latencyMs.p99,
      unit: 'ms',
      target: { op: '<=', value: 10, text: '≤ 10 ms' },
      peers: [{ name: 'plain IPC relay', value: m.relayPeer.p99 }],
    },
  ];
}

function webRows(w: WebBenchResult): Row[] {
  const out: Row[] = [];
  if (w.firstPaintMs && w.botsShownMs) {
    out.push({
      metric: '13. dashboard first paint, median of 10 fresh loads',
      value: w.firstPaintMs.median,
      unit: 'ms',
      target: { op: '<=', value: 300, text: '≤ 300 ms' },
      peers: [{ name: 'bot rows shown', value: w.botsShownMs.median }],
    });
  }
  if (w.eventToPageMs) {
    out.push({
      metric: '13. change in hived → shown on the page, p95 of 20',
      value: w.eventToPageMs.p95,
      unit: 'ms',
      target: { op: '<=', value: 100, text: '≤ 100 ms' },
      peers: [{ name: 'median', value: w.eventToPageMs.median }],
    });
  }
  out.push({
    metric: `13. hived CPU with ${w.cpu.dashboards} dashboards ÷ idle CPU`,
    value: cpuRatio(w),
    unit: '×',
    target: { op: '<=', value: 1.2, text: '≤ 1.2× (within 20%)' },
    peers: [
      { name: 'idle %', value: w.cpu.idlePercent },
      { name: '20 dashboards %', value: w.cpu.dashboardsPercent },
    ],
  });
  const loaded = w.cpuUnderLoad;
  out.push({
    metric: `13. hived CPU at ${loaded.tasksPerSecond} tasks/s, 20 dashboards ÷ none`,
    value: round(loaded.dashboardsPercent / loaded.noPagesPercent, 2),
    unit: '×',
    peers: [
      { name: 'no page %', value: loaded.noPagesPercent },
      { name: '20 dashboards %', value: loaded.dashboardsPercent },
    ],
  });
  out.push({
    metric: '13. idle RSS, dashboard served',
    value: w.rss.dashboardIdle.rssMb,
    unit: 'MB',
    peers: [
      { name: 'http.enabled false', value: w.rss.httpDisabled.rssMb },
      { name: 'after page loads', value: w.rss.afterPageLoads.rssMb },
    ],
  });
  return out;
}

function schedulerRows(s: SchedulerBenchResult): Row[] {
  const { pool } = s;
  return [
    {
      metric: `10. scheduler: adaptive decision + attempt bookkeeping, ${s.bots} bots`,
      value: s.adaptivePerTaskUs,
      unit: 'µs/task',
      target: { op: '<=', value: 5, text: '≤ 5 µs' },
      peers: [
        { name: 'round-robin pick', value: s.pickNs['round-robin'] / 1000 },
        { name: 'least-loaded pick', value: s.pickNs['least-loaded'] / 1000 },
      ],
    },
    {
      metric: `10. one bot ${pool.slowdown}× slower: adaptive p95 task latency`,
      value: pool.latencyMs.adaptive.p95,
      unit: 'ms',
      target: {
        op: '<=',
        value: pool.latencyMs['round-robin'].p95 / 2,
        text: `≤ ½ round-robin = ${(pool.latencyMs['round-robin'].p95 / 2).toFixed(1)} ms`,
      },
      peers: [{ name: 'round-robin', value: pool.latencyMs['round-robin'].p95 }],
    },
  ];
}

function recoveryRows(r: RecoveryBenchResult): Row[] {
  const what = `${r.tasks / 1000}k tasks, ${r.bots} bots, ${(r.fullBackupBytes / 1e6).toFixed(0)} MB`;
  return [
    {
      metric: `7. backup, full (${what}), median`,
      value: r.backupMs.median,
      unit: 'ms',
      target: { op: '<=', value: 500, text: '≤ 500 ms' },
    },
    {
      metric: '7. restore: parse, check, swap (checksums and safety backup apart), median',
      value: r.restoreSwapMs.median,
      unit: 'ms',
      target: { op: '<=', value: 500, text: '≤ 500 ms' },
    },
    {
      metric: '7. restore as hive backup restore --yes runs it (+ checksums, safety backup)',
      value: r.restoreMs.median,
      unit: 'ms',
    },
    {
      metric: '7. verify: read + SHA-256 of the backup files, median',
      value: r.checksumMBps.median,
      unit: 'MB/s',
      target: { op: '>=', value: 200, text: '≥ 200 MB/s' },
    },
    {
      metric: '7. verify with the trial restore and invariants, median',
      value: r.verifyMBps.median,
      unit: 'MB/s',
    },
  ];
}

function auditRows(a: AuditBenchResult): Row[] {
  const out: Row[] = [
    {
      metric: `8. audit append, sustained (${a.append.inFlight} writers awaiting fdatasync)`,
      value: a.append.entriesPerSecond,
      unit: 'entries/s',
      target: { op: '>=', value: 20_000, text: '≥ 20,000 entries/s' },
    },
    {
      metric: '8. audit append latency to durable, p99',
      value: a.append.latencyMs.p99,
      unit: 'ms',
    },
    {
      metric: `8. audit verify, ${a.corpus.entries.toLocaleString('en-US')} entries (MACs checked)`,
      value: a.verify.seconds,
      unit: 's',
      target: { op: '<=', value: 5, text: '≤ 5 s' },
      peers: [{ name: 'via hived socket', value: a.verifyViaHived.seconds }],
    },
  ];
  for (const [name, summary] of Object.entries(a.query)) {
    const primary = name === 'actor alice' || name === 'action command.task.submit';
    out.push({
      metric: `8. audit newest 100, ${name}, p95`,
      value: summary.p95,
      unit: 'ms',
      ...(primary ? { target: { op: '<=' as const, value: 50, text: '≤ 50 ms' } } : {}),
      peers: [{ name: 'via hived socket', value: a.queryViaHived[name]?.p95 ?? Number.NaN }],
    });
  }
  for (const [name, scan] of Object.entries(a.scan)) {
    out.push({
      metric: `8. audit full scan, rare ${name}`,
      value: scan.entriesPerSecond,
      unit: 'entries/s',
      ...(name.startsWith('actor')
        ? { target: { op: '>=' as const, value: 500_000, text: '≥ 500,000 entries/s' } }
        : {}),
    });
  }
  out.push({
    metric: '8. audit stats over the whole trail',
    value: a.stats.entriesPerSecond,
    unit: 'entries/s',
  });
  return out;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(3);
}

function table(all: Row[]): string {
  const header = ['benchmark', 'measured', 'target', 'ratio', 'ok', 'peers (measured; hive/peer)'];
  const body = all.map((r) => {
    const ratio = r.target ? r.value / r.target.value : undefined;
    const ok = r.target
      ? r.target.op === '<='
        ? r.value <= r.target.value
        : r.value >= r.target.value
      : undefined;
    return [
      r.metric,
      `${fmt(r.value)} ${r.unit}`,
      r.target?.text ?? '',
      ratio === undefined ? '' : `${ratio.toFixed(2)}×`,
      ok === undefined ? '' : ok ? 'yes' : 'MISS',
      (r.peers ?? [])
        .map((p) => `${p.name} ${fmt(p.value)} (${(r.value / p.value).toFixed(2)}×)`)
        .join('; '),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/**
 * Fills Node's compile cache for hived and hive (both exit normally, which
 * writes it), so that a fresh clone measures the steady state and not the
 * first run's TypeScript stripping.
 */
async function warmCompileCache(): Promise<void> {
  for (const entry of [HIVED, HIVE]) {
    const child = track(spawn(NODE, [entry, '--version'], { stdio: 'ignore' }));
    await exitOf(child);
  }
}

async function main(): Promise<number> {
  const machine = await describeMachine();
  log(
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.ramGb} GB, Linux ${machine.kernel}, Node ${machine.node}, ${machine.fileSystem}, fdatasync p50 ${machine.fdatasyncMs.median.toFixed(3)} ms`,
  );
  const started = performance.now();
  await warmCompileCache();
  const results: Results = {};
  let failed = false;
  for (const phase of [
    phaseIdle,
    phaseThroughput,
    phaseSubmit,
    phaseConfig,
    phaseRecovery,
    phaseAudit,
    phaseDegradation,
    phaseMessaging,
    phaseScheduler,
    phaseDeploy,
    phaseWeb,
  ]) {
    try {
      await phase(results);
    } catch (error) {
      failed = true;
      log(`benchmark failed: ${String((error as Error)?.stack ?? error)}`);
    }
  }
  await sleep(200);
  const strays = markedProcesses();
  if (strays.length > 0) {
    failed = true;
    log(`processes still alive after the run: ${strays.join(', ')} (killing them)`);
    killEverything();
  }
  const all = rows(results);
  const durationS = round((performance.now() - started) / 1000, 1);
  process.stdout.write(`\n${table(all)}\n\n`);
  const report = {
    machine,
    durationS,
    backgroundBusyPercent: background,
    otherWorkDuringPhase: during,
    strayProcesses: strays.length,
    rows: all,
    results,
  };
  const stamp = machine.date.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(RESULTS, `${stamp}.json`), json);
  writeFileSync(join(RESULTS, 'latest.json'), json);
  log(
    `other work on the machine (CPU %, 100 = one core) before / during each phase: ${Object.entries(
      background,
    )
      .map(([k, v]) => `${k} ${v}% / ${during[k]?.otherPercent ?? '?'}%`)
      .join(', ')}`,
  );
  log(`done in ${durationS} s; results in bench/results/${stamp}.json`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
