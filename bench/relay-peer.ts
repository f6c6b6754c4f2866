// The messaging benchmark's peer: the same topology without hive. This process
// forks a sender and a receiver and forwards every message from one to the
// other over Node IPC, with no persistence; the receiver reports the latency
// (CLOCK_MONOTONIC, as in message-bot.ts). Run by messaging.ts: relayPeer(rate, count).
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const clock = () => Number(process.hrtime.bigint()) / 1e6;

export interface RelayLatency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function sender(rate: number, count: number): void {
  const start = clock();
  let sent = 0;
  const pump = () => {
    while (sent < count && sent < ((clock() - start) / 1000) * rate) {
      process.send?.({ t: clock() });
      sent += 1;
    }
    if (sent < count) setTimeout(pump, 1);
  };
  pump();
}

function receiver(count: number): void {
  const latencies: number[] = [];
  process.on('message', (m: { t: number }) => {
    latencies.push(clock() - m.t);
    if (latencies.length < count) return;
    latencies.sort((a, b) => a - b);
    const at = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
    process.send?.({ p50: at(0.5), p90: at(0.9), p99: at(0.99), max: latencies.at(-1) ?? 0 });
  });
}

/** Relays `count` messages at `rate`/s from a forked sender to a forked receiver. */
export function relayPeer(
  rate: number,
  count: number,
  track: (child: ChildProcess) => ChildProcess = (c) => c,
): Promise<RelayLatency> {
  const script = fileURLToPath(import.meta.url);
  const env = { ...process.env, RATE: String(rate), COUNT: String(count) };
  const child = (role: string) => track(fork(script, [], { env: { ...env, RELAY_ROLE: role } }));
  const to = child('receiver');
  const from = child('sender');
  from.on('message', (m) => to.send(m as object));
  return new Promise((resolve) => {
    to.once('message', (m) => {
      from.kill();
      to.kill();
      resolve(m as RelayLatency);
    });
  });
}

const role = process.env.RELAY_ROLE;
if (role === 'sender') sender(Number(process.env.RATE), Number(process.env.COUNT));
else if (role === 'receiver') receiver(Number(process.env.COUNT));
