/**
 * Benchmark 9 (issue 7): what watching costs and how fast it reacts.
 *
 * - Monitor overhead at the default interval (1 s), hived with 8 echo bots:
 *   the monitor's own time per second (hive_monitor_sample_seconds_total,
 *   measured inside hived around each sample), hived's CPU with the monitor
 *   sampling every second against the same daemon sampling once an hour
 *   (A/B, /proc ticks), and the event-loop histogram's timer (50 ms) in an
 *   idle process against one without it.
 * - Signal crossing → mode change: the queue-depth signal of a kind with no
 *   bots is pushed past enterAt by one pipelined burst; the clock runs from
 *   the acknowledgement of the submission that crossed to the mode change
 *   as hived timestamps it. Target: N × interval + 100 ms.
 * - /metrics render with 50 bots: sequential GETs against a daemon with 50
 *   echo bots; client-side time to the last byte.
 */
import { spawn } from 'node:child_process';
import type { ModeView } from '../protocol/health.ts';
import {
  cpuMs,
  type Daemon,
  exitOf,
  NODE,
  round,
  type Summary,
  sleep,
  startDaemon,
  summarize,
  track,
  waitFor,
} from './lib.ts';

export interface DegradationBenchResult {
  monitor: {
    bots: number;
    windowS: number;
    /** The monitor's own sampling time, % of one core. */
    sampleCpuPercent: number;
    sampleMs: number;
    /** hived's CPU, % of one core, sampling every second / once an hour. */
    hivedCpuPercent: { sampling: number; idle: number };
    /** An idle process with and without a 50 ms event-loop histogram, % of one core. */
    loopHistogramCpuPercent: { with: number; without: number };
  };
  crossing: { intervalMs: number; samplesInARow: number; targetMs: number; latencyMs: Summary };
  render: { bots: number; series: number; bytes: number; ms: Summary };
}

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
const httpPort = async (daemon: Daemon) => {
  const { http } = (await daemon.call('status')) as { http: { listening: { port: number } } };
  return http.listening.port;
};
const counter = (text: string, name: string) =>
  Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2]);

/** hived's CPU (% of one core) and the monitor's own over a window. */
async function window(daemon: Daemon, port: number, seconds: number) {
  const before = { cpu: cpuMs(daemon.pid) ?? 0, text: await scrape(port), at: performance.now() };
  await sleep(seconds * 1000);
  const after = { cpu: cpuMs(daemon.pid) ?? 0, text: await scrape(port), at: performance.now() };
  const wall = after.at - before.at;
  const monitorS =
    counter(after.text, 'hive_monitor_sample_seconds_total') -
    counter(before.text, 'hive_monitor_sample_seconds_total');
  const samples =
    counter(after.text, 'hive_monitor_samples_total') -
    counter(before.text, 'hive_monitor_samples_total');
  return {
    cpuPercent: round(((after.cpu - before.cpu) / wall) * 100, 2),
    monitorPercent: round(((monitorS * 1000) / wall) * 100, 3),
    sampleMs: round((monitorS * 1000) / Math.max(1, samples), 3),
  };
}

async function monitorOverhead(seconds: number): Promise<DegradationBenchResult['monitor']> {
  const run = async (intervalMs: number) => {
    const daemon = await startDaemon({
      instances: 8,
      extra: { http: { port: 0 }, degradation: { intervalMs } },
    });
    try {
      await sleep(3000);
      return await window(daemon, await httpPort(daemon), seconds);
    } finally {
      await daemon.stop();
    }
  };
  const sampling = await run(1000);
  const idle = await run(3_600_000);
  return {
    bots: 8,
    windowS: seconds,
    sampleCpuPercent: sampling.monitorPercent,
    sampleMs: sampling.sampleMs,
    hivedCpuPercent: { sampling: sampling.cpuPercent, idle: idle.cpuPercent },
    loopHistogramCpuPercent: {
      with: await idleProcessCpu(true, seconds),
      without: await idleProcessCpu(false, seconds),
    },
  };
}

/** CPU of an otherwise idle Node process, with or without the monitor's event-loop histogram. */
async function idleProcessCpu(histogram: boolean, seconds: number): Promise<number> {
  const code = `${histogram ? "require('node:perf_hooks').monitorEventLoopDelay({ resolution: 50 }).enable();" : ''} setInterval(() => {}, 1000);`;
  const child = track(spawn(NODE, ['-e', code], { stdio: 'ignore' }));
  await sleep(1000);
  const pid = child.pid as number;
  const before = cpuMs(pid) ?? 0;
  const start = performance.now();
  await sleep(seconds * 1000);
  const used = (cpuMs(pid) ?? 0) - before;
  const wall = performance.now() - start;
  child.kill('SIGKILL');
  await exitOf(child);
  return round((used / wall) * 100, 2);
}

async function crossing(runs: number): Promise<DegradationBenchResult['crossing']> {
  const intervalMs = 1000;
  const samplesInARow = 3;
  const enterAt = 50;
  // No echo bots: submitted tasks stay queued, so the depth is exactly what was submitted.
  const daemon = await startDaemon({
    instances: 0,
    extra: {
      http: { port: 0 },
      degradation: {
        intervalMs,
        consecutiveSamples: samplesInARow,
        transitionPeriodMs: 1000,
        minDwellMs: 0,
        signals: { queueDepth: { enterAt, exitAt: 10 } },
      },
    },
  });
  const latencies: number[] = [];
  try {
    const connection = await daemon.connect();
    const mode = async () => (await daemon.call('mode.get')) as ModeView;
    for (let run = 0; run < runs; run++) {
      // Start at a random point of the sampling interval, as a real crossing would.
      await sleep(Math.random() * intervalMs);
      const ids = await Promise.all(
        Array.from({ length: enterAt - 1 }, () =>
          connection.request('task.submit', { type: 'echo' }),
        ),
      );
      const crossed = (await connection.request('task.submit', { type: 'echo' })) as {
        id: string;
      };
      const crossedAt = Date.now();
      const degraded = await waitFor(
        async () => {
          const view = await mode();
          return view.mode === 'degraded' ? view : undefined;
        },
        'DEGRADED',
        20_000,
        5,
      );
      latencies.push(degraded.since - crossedAt);
      for (const task of [...ids, crossed] as { id: string }[])
        await connection.request('task.cancel', { id: task.id });
      await waitFor(async () => ((await mode()).mode === 'full' ? true : undefined), 'FULL');
    }
    connection.close();
  } finally {
    await daemon.stop();
  }
  return {
    intervalMs,
    samplesInARow,
    targetMs: samplesInARow * intervalMs + 100,
    latencyMs: summarize(latencies),
  };
}

async function render(bots: number, gets: number): Promise<DegradationBenchResult['render']> {
  const daemon = await startDaemon({
    instances: bots,
    concurrency: 1,
    extra: { http: { port: 0 } },
  });
  try {
    const port = await httpPort(daemon);
    await sleep(2000);
    const times: number[] = [];
    let text = '';
    for (let i = 0; i < gets + 5; i++) {
      const start = performance.now();
      text = await scrape(port);
      if (i >= 5) times.push(performance.now() - start);
    }
    return {
      bots,
      series: text.split('\n').filter((l) => l && !l.startsWith('#')).length,
      bytes: Buffer.byteLength(text),
      ms: summarize(times),
    };
  } finally {
    await daemon.stop();
  }
}

export async function benchDegradation(options: {
  monitorSeconds: number;
  crossings: number;
  renders: number;
  log: (message: string) => void;
}): Promise<DegradationBenchResult> {
  options.log(`monitor overhead: hived with 8 bots, ${options.monitorSeconds} s at 1 s vs 1 h`);
  const monitor = await monitorOverhead(options.monitorSeconds);
  options.log(`signal crossing -> mode change (${options.crossings} runs)`);
  const cross = await crossing(options.crossings);
  options.log(`/metrics render with 50 bots (${options.renders} GETs)`);
  const rendered = await render(50, options.renders);
  return { monitor, crossing: cross, render: rendered };
}
