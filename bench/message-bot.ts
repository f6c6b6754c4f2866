// The messaging benchmark's two bots (env BENCH_ROLE):
// - sender: task `blast` {count, window, rate?, to} sends `count` messages to `to`,
//   keeping `window` sends unanswered at most, paced at `rate`/s when given;
//   each body carries the send time. Answers how long the sends took.
// - receiver: handles every message (no work) and keeps the delivery latency
//   (receive time − send time, both
//   CLOCK_MONOTONIC, which every process on the machine shares (performance.timeOrigin
//   is per process and drifted ms apart between the two bots); task `report` answers and
//   resets them.
import { runBot } from '../bots/sdk.ts';

const clock = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Blast {
  count: number;
  window: number;
  rate?: number;
  to: string;
}

let latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;

const bot = runBot({
  version: 'bench-1',
  onMessage: (message) => {
    const now = clock();
    if (firstAt === 0) firstAt = now;
    lastAt = now;
    latencies.push(now - (message.body as { t: number }).t);
  },
  handlers: {
    blast: async (payload) => {
      const { count, window, rate, to } = payload as Blast;
      const start = clock();
      let sent = 0;
      let open = 0;
      let failed = 0;
      await new Promise<void>((done) => {
        // One timer at a time: a paced sender waits for its next slot, it does not
        // arm a timer per answered send.
        let waiting = false;
        const settle = (ok: boolean) => {
          open -= 1;
          if (!ok) failed += 1;
          if (sent === count && open === 0) done();
          else pump();
        };
        const pump = () => {
          while (sent < count && open < window) {
            if (rate && sent >= ((clock() - start) / 1000) * rate) {
              if (!waiting) {
                waiting = true;
                setTimeout(() => {
                  waiting = false;
                  pump();
                }, 1);
              }
              return;
            }
            sent += 1;
            open += 1;
            bot.send(to, { t: clock(), n: sent }).then(
              () => settle(true),
              () => settle(false),
            );
          }
        };
        pump();
      });
      return { sent, failed, ms: clock() - start };
    },
    report: async () => {
      await sleep(0);
      const sorted = latencies.sort((a, b) => a - b);
      const at = (p: number) =>
        sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
      const out = {
        received: sorted.length,
        firstAt,
        lastAt,
        latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? 0 },
      };
      latencies = [];
      firstAt = 0;
      lastAt = 0;
      return out;
    },
  },
});
