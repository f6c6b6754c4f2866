/**
 * Benchmark 9 (issue 9): bot-to-bot messages through a real hived.
 *
 * Two bots (bench/message-bot.ts): a sender that sends as fast as the
 * daemon acknowledges (a window of unanswered sends), and a receiver that
 * handles and acks each message. Every message is persisted before the
 * sender is told it was accepted (fdatasync, group commit), then delivered,
 * then acked (two more journal records), and logged to bot-messaging.jsonl.
 *
 * - Throughput: messages received per second over a sustained blast.
 * - Delivery latency (send call → receiver's handler) at half the measured
 *   throughput, paced, p50 / p99.
 *
 * Diagnostics: BENCH_MESSAGING='{"logEvents":false}' merges into the
 * messaging config, BENCH_NODE_FLAGS='--trace-gc' passes flags to hived.
 */
import { join } from 'node:path';
import { type CpuUse, cpuWindow, type Daemon, ROOT, round, startDaemon, track } from './lib.ts';
import { type RelayLatency, relayPeer } from './relay-peer.ts';

const BOT = join(ROOT, 'bench', 'message-bot.ts');

export interface MessagingBenchResult {
  throughput: {
    messages: number;
    seconds: number;
    messagesPerSecond: number;
    window: number;
    hivedCpuUsPerMessage: number;
    cpu: CpuUse;
  };
  paced: {
    rate: number;
    messages: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number };
    achievedRate: number;
  };
  /** The same topology relayed by a plain Node parent over IPC, no persistence, same rate. */
  relayPeer: RelayLatency;
}

interface Report {
  received: number;
  firstAt: number;
  lastAt: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

async function run(
  daemon: Daemon,
  blast: { count: number; window: number; rate?: number },
): Promise<Report> {
  const connection = await daemon.connect();
  try {
    const sent = (await connection.request('task.submit', {
      type: 'blast',
      payload: { ...blast, to: 'receiver' },
      timeoutMs: 600_000,
      wait: true,
    })) as { state: string; result?: { failed: number } };
    if (sent.state !== 'done' || sent.result?.failed)
      throw new Error(`blast ended ${sent.state}: ${JSON.stringify(sent.result)}`);
    // Every accepted message reaches the receiver (at least once): wait for the last ones.
    for (let i = 0; i < 500; i++) {
      const stats = (await connection.request('msg.stats', {})) as { counters: { acked: number } };
      const queued = (await connection.request('msg.stats', {})) as {
        states: { queued: number; delivered: number };
      };
      if (queued.states.queued === 0 && queued.states.delivered === 0 && stats.counters.acked > 0)
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const report = (await connection.request('task.submit', {
      type: 'report',
      wait: true,
    })) as { result: Report };
    return report.result;
  } finally {
    connection.close();
  }
}

export async function benchMessaging(options: {
  count: number;
  window: number;
  log: (m: string) => void;
}): Promise<MessagingBenchResult> {
  const daemon = await startDaemon({
    instances: 0,
    ready: 2,
    ...(process.env.BENCH_NODE_FLAGS ? { nodeFlags: process.env.BENCH_NODE_FLAGS.split(' ') } : {}),
    bots: {
      sender: { command: BOT, env: { BENCH_ROLE: 'sender' }, taskTypes: ['blast'] },
      receiver: { command: BOT, env: { BENCH_ROLE: 'receiver' }, taskTypes: ['report'] },
    },
    extra: {
      messaging: { maxInflightPerBot: 256, ...JSON.parse(process.env.BENCH_MESSAGING ?? '{}') },
    },
  });
  try {
    const bots = (await daemon.status()).bots.flatMap((b) => (b.pid ? [b.pid] : []));
    options.log('messages: warm-up');
    await run(daemon, { count: 5_000, window: options.window });
    options.log(`messages: ${options.count} as fast as they are accepted`);
    const cpu = cpuWindow({ hived: [daemon.pid], bots });
    const hivedBefore = cpu;
    const full = await run(daemon, { count: options.count, window: options.window });
    const used = hivedBefore();
    const seconds = (full.lastAt - full.firstAt) / 1000;
    const perSecond = full.received / seconds;
    const rate = Math.round(Math.min(perSecond, 10_000) / 2);
    options.log(`messages: ${rate}/s paced (half the throughput, at most 5,000/s) for latency`);
    const paced = await run(daemon, { count: rate * 5, window: options.window, rate });
    options.log(`messages: the peer, a plain IPC relay at ${rate}/s`);
    const peer = await relayPeer(rate, rate * 5, track);
    return {
      throughput: {
        messages: full.received,
        seconds: round(seconds, 2),
        messagesPerSecond: Math.round(perSecond),
        window: options.window,
        hivedCpuUsPerMessage: round(
          (((used.processPercent.hived ?? 0) / 100) * used.wallMs * 1000) / full.received,
          1,
        ),
        cpu: used,
      },
      paced: {
        rate,
        messages: paced.received,
        latencyMs: {
          p50: round(paced.latencyMs.p50),
          p90: round(paced.latencyMs.p90),
          p99: round(paced.latencyMs.p99),
          max: round(paced.latencyMs.max),
        },
        achievedRate: Math.round(paced.received / ((paced.lastAt - paced.firstAt) / 1000)),
      },
      relayPeer: {
        p50: round(peer.p50),
        p90: round(peer.p90),
        p99: round(peer.p99),
        max: round(peer.max),
      },
    };
  } finally {
    await daemon.stop();
  }
}

if (import.meta.main) {
  const result = await benchMessaging({
    count: 50_000,
    window: 512,
    log: (m) => process.stderr.write(`[bench] ${m}\n`),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
