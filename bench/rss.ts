/**
 * Benchmark 5: resident memory of an idle hived with 4 bots, read from
 * /proc/<pid>/status (VmRSS), beside an idle `node -e "setInterval(...)"`
 * on the same Node (the floor any Node daemon pays) and, when present, the
 * pm2 God daemon with 4 trivial apps. Each is sampled several times after
 * the processes have settled; the median sample is reported.
 */
import { spawn } from 'node:child_process';
import { exitOf, NODE, procStatusKb, round, sleep, track } from './lib.ts';

export interface RssSample {
  rssMb: number;
  /** Anonymous memory (heap and friends), without mapped files such as the node binary. */
  anonMb: number;
  hwmMb: number;
}

export interface RssResult {
  settleMs: number;
  hived: RssSample;
  nodeFloor: RssSample;
  pm2God?: RssSample;
  /** RSS of each of the 4 echo bots (first generation: fresh state dir, cold compile cache). */
  botsRssMb: number[];
  /** hived after the throughput and submit benchmarks, idle again (extra, not the target). */
  hivedAfterLoad?: RssSample;
}

/** Median of `samples` readings, `intervalMs` apart. */
export async function sampleRss(pid: number, samples = 5, intervalMs = 200): Promise<RssSample> {
  const rss: number[] = [];
  const anon: number[] = [];
  let hwm = 0;
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(intervalMs);
    rss.push(procStatusKb(pid, 'VmRSS') ?? Number.NaN);
    anon.push(procStatusKb(pid, 'RssAnon') ?? Number.NaN);
    hwm = Math.max(hwm, procStatusKb(pid, 'VmHWM') ?? 0);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return {
    rssMb: round(median(rss) / 1024, 1),
    anonMb: round(median(anon) / 1024, 1),
    hwmMb: round(hwm / 1024, 1),
  };
}

/** An idle Node process: the floor. Returns its pid and a stopper. */
export function startNodeFloor(): { pid: number; stop(): Promise<void> } {
  const child = track(spawn(NODE, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' }));
  if (!child.pid) throw new Error('node floor process did not start');
  return {
    pid: child.pid,
    stop: async () => {
      child.kill('SIGKILL');
      await exitOf(child);
    },
  };
}
