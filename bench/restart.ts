/**
 * Benchmark 4: a bot killed with SIGKILL → its replacement `ready`.
 *
 * The clock starts right before `process.kill(pid, 'SIGKILL')` and stops when
 * `status` (polled on one open connection every ~1 ms) shows the same bot
 * slot `ready` with a new pid. Afterwards bots.jsonl gives the daemon's own
 * view of each kill: when it saw the exit, when it spawned the replacement,
 * and the replacement's spawn → ready time (`startMs`).
 *
 * The restart policy backs off for consecutive crashes of one slot (a crash
 * within `resetAfterMs` of the last doubles the delay), so each kill targets
 * the slot that has been ready longest and waits until it has been up for
 * `resetAfterMs`: every kill is a first crash, restarted after
 * `initialDelayMs`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../client/connection.ts';
import {
  type Daemon,
  round,
  rssMb,
  type StatusView,
  type Summary,
  sleep,
  summarize,
} from './lib.ts';

export interface RestartResult {
  kills: number;
  /** kill → replacement ready, as seen by a client polling status. */
  killToReadyMs: Summary;
  /** From bots.jsonl: kill → daemon logs the exit. */
  detectMs?: Summary;
  /** From bots.jsonl: exit logged → replacement spawned (the restart policy's delay). */
  restartDelayMs?: Summary;
  /** From bots.jsonl: replacement spawned → ready (`startMs`). */
  spawnToReadyMs?: Summary;
  policy: { initialDelayMs: number; resetAfterMs: number };
  /** RSS of the bots at the end (replacements started after a SIGKILL). */
  botsRssMb: number[];
}

interface LogLine {
  time: string;
  message: string;
  bot?: string;
  startMs?: number;
}

export async function benchRestart(
  daemon: Daemon,
  options: { kills: number; initialDelayMs: number; resetAfterMs: number },
): Promise<RestartResult> {
  const connection: Connection = await daemon.connect();
  const status = async () => (await connection.request('status')) as StatusView;
  const samples: number[] = [];
  const kills: { bot: string; at: number }[] = [];
  for (let k = 0; k < options.kills; k++) {
    // The slot ready the longest, once it has been up past resetAfterMs.
    let victim: { name: string; pid: number; readySince: number } | undefined;
    for (;;) {
      const s = await status();
      const ready = s.bots
        .filter((b) => b.state === 'ready' && b.pid && b.readySince)
        .sort((a, b) => (a.readySince ?? 0) - (b.readySince ?? 0));
      const oldest = ready[0];
      if (oldest?.pid && oldest.readySince && ready.length === s.bots.length) {
        const wait = oldest.readySince + options.resetAfterMs + 100 - Date.now();
        if (wait <= 0) {
          victim = { name: oldest.name, pid: oldest.pid, readySince: oldest.readySince };
          break;
        }
        await sleep(wait);
      } else await sleep(20);
    }
    const wallAt = Date.now();
    const start = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    for (;;) {
      const s = await status();
      const bot = s.bots.find((b) => b.name === victim.name);
      if (bot && bot.state === 'ready' && bot.pid !== victim.pid) break;
      if (performance.now() - start > 15_000) throw new Error(`${victim.name} did not come back`);
      await new Promise((r) => setTimeout(r, 1));
    }
    samples.push(performance.now() - start);
    kills.push({ bot: victim.name, at: wallAt });
  }
  const end = await status();
  connection.close();
  return {
    botsRssMb: end.bots.map((b) => round(b.pid ? (rssMb(b.pid) ?? Number.NaN) : Number.NaN, 1)),
    kills: samples.length,
    killToReadyMs: summarize(samples),
    ...fromLog(daemon, kills),
    policy: { initialDelayMs: options.initialDelayMs, resetAfterMs: options.resetAfterMs },
  };
}

/** The daemon's side of each kill, from bots.jsonl (millisecond timestamps). */
function fromLog(
  daemon: Daemon,
  kills: { bot: string; at: number }[],
): Pick<RestartResult, 'detectMs' | 'restartDelayMs' | 'spawnToReadyMs'> {
  let lines: LogLine[];
  try {
    lines = readFileSync(join(daemon.stateDir, 'logs', 'bots.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);
  } catch {
    return {};
  }
  const detect: number[] = [];
  const delay: number[] = [];
  const spawnToReady: number[] = [];
  for (const kill of kills) {
    const exit = lines.find(
      (l) => l.bot === kill.bot && l.message.includes('exited') && Date.parse(l.time) >= kill.at,
    );
    if (!exit) continue;
    const exitAt = Date.parse(exit.time);
    const ready = lines.find(
      (l) =>
        l.bot === kill.bot &&
        l.message.endsWith(' ready') &&
        l.startMs !== undefined &&
        Date.parse(l.time) >= exitAt,
    );
    if (!ready || ready.startMs === undefined) continue;
    const readyAt = Date.parse(ready.time);
    detect.push(exitAt - kill.at);
    delay.push(readyAt - ready.startMs - exitAt);
    spawnToReady.push(ready.startMs);
  }
  return {
    detectMs: summarize(detect),
    restartDelayMs: summarize(delay),
    spawnToReadyMs: summarize(spawnToReady),
  };
}
