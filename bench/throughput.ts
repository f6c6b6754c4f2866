/**
 * Benchmark 3: the durable task path.
 *
 * - Sustained throughput: several client connections each keep a window of
 *   `task.submit {wait: true}` requests open (a closed loop): every task is
 *   journaled (fdatasync) on submit, lease and result, dispatched to one of 4
 *   echo bots, and answered once done. Completions are counted in a
 *   measurement window after a warm-up.
 * - Submit acknowledgement latency with 10,000 tasks queued: the bots are
 *   scaled to 0 (`bots.scale`), 10,000 tasks are submitted, then several
 *   clients submit sequentially and each acknowledgement (= fdatasync done)
 *   is timed.
 */
import type { Connection } from '../client/connection.ts';
import {
  type CpuUse,
  cpuMs,
  cpuWindow,
  type Daemon,
  type Summary,
  sleep,
  summarize,
} from './lib.ts';

export interface ThroughputResult {
  clients: number;
  windowPerClient: number;
  botConcurrency: number;
  warmupMs: number;
  measureMs: number;
  completed: number;
  tasksPerSecond: number;
  /** submit → done as the client sees it (includes queueing behind the window). */
  endToEndMs: Summary;
  failures: number;
  /** Completions per second in each 500 ms slice of the window (shows stalls). */
  perSliceRate: number[];
  /** CPU of hived, the bots, this client process and the machine during the window. */
  cpu: CpuUse;
  /** hived's CPU time per completed task (µs): steadier than tasks/s on a noisy machine. */
  hivedCpuUsPerTask: number;
  /** The bots' CPU time per task (µs), all four together. */
  botsCpuUsPerTask: number;
}

export async function benchThroughput(
  daemon: Daemon,
  options: {
    clients: number;
    window: number;
    warmupMs: number;
    measureMs: number;
    botConcurrency: number;
  },
): Promise<ThroughputResult> {
  const connections: Connection[] = [];
  for (let i = 0; i < options.clients; i++) connections.push(await daemon.connect());
  let measuring = false;
  let running = true;
  let completed = 0;
  let failures = 0;
  const latencies: number[] = [];
  let seq = 0;
  const loop = async (connection: Connection) => {
    while (running) {
      const start = performance.now();
      const n = seq++;
      try {
        const answer = (await connection.request('task.submit', {
          type: 'echo',
          payload: { n, text: 'hello hive' },
          wait: true,
        })) as { state: string };
        if (answer.state !== 'done') failures += 1;
        else if (measuring) {
          completed += 1;
          latencies.push(performance.now() - start);
        }
      } catch {
        failures += 1;
      }
    }
  };
  const loops = connections.flatMap((c) => Array.from({ length: options.window }, () => loop(c)));
  await sleep(options.warmupMs);
  const bots = (await daemon.status()).bots.flatMap((b) => (b.pid ? [b.pid] : []));
  const cpu = cpuWindow({ hived: [daemon.pid], bots, client: [process.pid] });
  measuring = true;
  const start = performance.now();
  const slices: number[] = [];
  let last = 0;
  while (performance.now() - start < options.measureMs) {
    await sleep(500);
    slices.push(((completed - last) / 500) * 1000);
    last = completed;
  }
  measuring = false;
  const elapsed = performance.now() - start;
  const cpuUse = cpu();
  running = false;
  await Promise.all(loops);
  for (const c of connections) c.close();
  return {
    clients: options.clients,
    windowPerClient: options.window,
    botConcurrency: options.botConcurrency,
    warmupMs: options.warmupMs,
    measureMs: Math.round(elapsed),
    completed,
    tasksPerSecond: (completed / elapsed) * 1000,
    endToEndMs: summarize(latencies),
    failures,
    perSliceRate: slices.map((x) => Math.round(x)),
    cpu: cpuUse,
    hivedCpuUsPerTask: Math.round(
      (((cpuUse.processPercent.hived ?? 0) / 100) * elapsed * 1000) / Math.max(1, completed),
    ),
    botsCpuUsPerTask: Math.round(
      (((cpuUse.processPercent.bots ?? 0) / 100) * elapsed * 1000) / Math.max(1, completed),
    ),
  };
}

export interface SubmitAckResult {
  queuedBefore: number;
  fillMs: number;
  /** Submissions/s over the last 80% of the fill (8 clients × 32 in flight, no bots). */
  fillRate: number;
  /** hived's CPU time per submission while filling (µs). */
  fillCpuUsPerSubmit: number;
  clients: number;
  submitsPerClient: number;
  ackMs: Summary;
  /** The same with one client alone (every ack pays a full fdatasync). */
  singleClientAckMs: Summary;
  queuedAfter: number;
}

async function timedSubmits(
  connection: Connection,
  count: number,
  samples: number[],
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await connection.request('task.submit', { type: 'echo', payload: { i, text: 'queued' } });
    samples.push(performance.now() - t);
  }
}

export async function benchSubmitAck(
  daemon: Daemon,
  options: { queued: number; clients: number; submitsPerClient: number },
): Promise<SubmitAckResult> {
  await daemon.call('bots.scale', { kind: 'echo', instances: 0 });
  const connections: Connection[] = [];
  for (let i = 0; i < options.clients; i++) connections.push(await daemon.connect());
  // Fill the queue: every client pipelines its share, 32 submissions in flight
  // each. The first fifth warms the JIT; the rest is timed (the submit path alone).
  let submitted = 0;
  const fill = (upTo: number) =>
    Promise.all(
      connections.flatMap((c) =>
        Array.from({ length: 32 }, async () => {
          while (submitted < upTo) {
            submitted += 1;
            await c.request('task.submit', { type: 'echo', payload: { fill: submitted } });
          }
        }),
      ),
    );
  const warm = Math.floor(options.queued / 5);
  await fill(warm);
  const fillStart = performance.now();
  const fillCpuStart = cpuMs(daemon.pid) ?? 0;
  await fill(options.queued);
  const fillMs = performance.now() - fillStart;
  const fillCpu = (cpuMs(daemon.pid) ?? 0) - fillCpuStart;
  const timed = options.queued - warm;
  const before = (await daemon.status()).queue.queued ?? 0;
  await sleep(300);
  const single: number[] = [];
  const [first] = connections;
  if (!first) throw new Error('no client connection');
  await timedSubmits(first, 50, []);
  await timedSubmits(first, Math.min(500, options.submitsPerClient * 2), single);
  const samples: number[] = [];
  await Promise.all(connections.map((c) => timedSubmits(c, options.submitsPerClient, samples)));
  for (const c of connections) c.close();
  const after = (await daemon.status()).queue.queued ?? 0;
  return {
    queuedBefore: before,
    fillMs: Math.round(fillMs),
    fillRate: (timed / fillMs) * 1000,
    fillCpuUsPerSubmit: Math.round((fillCpu * 1000) / timed),
    clients: options.clients,
    submitsPerClient: options.submitsPerClient,
    ackMs: summarize(samples),
    singleClientAckMs: summarize(single),
    queuedAfter: after,
  };
}
