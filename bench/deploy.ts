/**
 * Benchmark 12 (issue 8): a deployment under steady load.
 *
 * - hived with 4 echo bots (concurrency 8) gets a paced 500 tasks/s (10
 *   pipelined submissions every 20 ms on one connection). After a baseline
 *   window, a canary deployment of the same echo bot as a new version
 *   (steps 5, 25, 50, 100) runs to PROMOTED. Throughput is completions per
 *   second (the queue's done counter, sampled every 200 ms); each step's
 *   dip is 1 - (its completions/s ÷ the baseline's). Every submitted task
 *   must end done: failed, dead or missing ones are counted.
 * - Abort: a second deployment held at 50%; `deploy abort` is sent under
 *   the same load. Abort-to-all-on-blue is from the request to the last
 *   lease hived gave a green bot (tasks' own lease times); the command's
 *   whole duration (green drained and stopped) is reported beside it.
 */
import type { DeploymentView } from '../protocol/deploy.ts';
import { type Daemon, ECHO_BOT, round, sleep, startDaemon, waitFor } from './lib.ts';

export interface DeployBenchResult {
  ratePerSecond: number;
  baselinePerSecond: number;
  steps: { weight: number; seconds: number; perSecond: number; dipPercent: number }[];
  submitted: number;
  done: number;
  failedOrLost: number;
  deploySeconds: number;
  abort: { toBlueMs: number; commandMs: number; greenLeasesAfter: number };
}

interface Sample {
  at: number;
  done: number;
}

/** Paced submissions: `perTick` every `tickMs`, pipelined, until stopped. */
function pacedLoad(daemon: Daemon, perTick: number, tickMs: number) {
  const ids: Promise<string>[] = [];
  let timer: NodeJS.Timeout | undefined;
  const ready = daemon.connect().then((connection) => {
    timer = setInterval(() => {
      for (let i = 0; i < perTick; i++)
        ids.push(
          connection
            .request('task.submit', { type: 'echo', payload: { n: ids.length } })
            .then((a) => (a as { id: string }).id),
        );
    }, tickMs);
    return connection;
  });
  return {
    async stop(): Promise<string[]> {
      const connection = await ready;
      clearInterval(timer);
      const all = await Promise.all(ids);
      connection.close();
      return all;
    },
  };
}

function sampler(daemon: Daemon) {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const { queue } = await daemon.status();
      samples.push({ at: Date.now(), done: queue.done ?? 0 });
      await sleep(200);
    }
  })();
  return {
    samples,
    /** Completions per second between two times (nearest samples inside). */
    rate(from: number, to: number): number {
      const inside = samples.filter((s) => s.at >= from && s.at <= to);
      const first = inside[0];
      const last = inside.at(-1);
      if (!first || !last || last.at === first.at) return Number.NaN;
      return ((last.done - first.done) / (last.at - first.at)) * 1000;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function view(daemon: Daemon): Promise<DeploymentView | undefined> {
  const { deployments } = (await daemon.call('deploy.status', { kind: 'echo' })) as {
    deployments: DeploymentView[];
  };
  return deployments[0];
}

/** Polls the deployment and notes when each step began; resolves when it finished. */
async function watchSteps(daemon: Daemon): Promise<{ weight: number; from: number; to: number }[]> {
  const steps: { weight: number; from: number; to: number }[] = [];
  for (;;) {
    const v = await view(daemon);
    const now = Date.now();
    const current = steps.at(-1);
    const shifting = v && (v.state === 'canary' || v.state === 'shifting');
    if (shifting && current?.weight !== v.weight.target) {
      if (current) current.to = now;
      steps.push({ weight: v.weight.target, from: now, to: now });
    } else if (current) current.to = now;
    if (v?.finishedAt !== undefined || v?.state === 'promoted') return steps;
    await sleep(50);
  }
}

async function settle(daemon: Daemon, ids: string[]): Promise<{ done: number; bad: number }> {
  await waitFor(
    async () => {
      const { queue } = await daemon.status();
      return (queue.queued ?? 0) + (queue.running ?? 0) === 0 ? true : undefined;
    },
    'the queue to empty',
    60_000,
    100,
  );
  let done = 0;
  const connection = await daemon.connect();
  try {
    for (const id of ids) {
      const task = (await connection.request('task.get', { id })) as { state: string };
      if (task.state === 'done') done += 1;
    }
  } finally {
    connection.close();
  }
  return { done, bad: ids.length - done };
}

interface LeaseView {
  history: { bot: string; startedAt: number; release?: { pool: string } }[];
}

async function abortUnderLoad(daemon: Daemon): Promise<DeployBenchResult['abort']> {
  await daemon.call('deploy.start', {
    kind: 'echo',
    command: ECHO_BOT,
    env: { HIVE_BENCH_VERSION: 'v3' },
    steps: [50, 100],
  });
  await waitFor(
    async () => ((await view(daemon))?.state === 'canary' ? true : undefined),
    'canary',
  );
  const load = pacedLoad(daemon, 10, 20);
  await sleep(2000);
  const sent = Date.now();
  await daemon.call('deploy.abort', { kind: 'echo', reason: 'benchmark abort' });
  const commandMs = Date.now() - sent;
  await sleep(1000);
  const ids = await load.stop();
  await settle(daemon, ids);
  const connection = await daemon.connect();
  let lastGreen = 0;
  let after = 0;
  try {
    for (const id of ids) {
      const task = (await connection.request('task.get', { id })) as LeaseView;
      for (const a of task.history) {
        // By the recorded pool, not the name: after the first promotion blue's bots are echo-gN.
        if (a.release?.pool !== 'green') continue;
        lastGreen = Math.max(lastGreen, a.startedAt);
        if (a.startedAt > sent) after += 1;
      }
    }
  } finally {
    connection.close();
  }
  return { toBlueMs: Math.max(0, lastGreen - sent), commandMs, greenLeasesAfter: after };
}

export async function benchDeploy(options: {
  baselineSeconds: number;
  stepSeconds: number;
  log: (message: string) => void;
}): Promise<DeployBenchResult> {
  const daemon = await startDaemon({
    instances: 4,
    concurrency: 8,
    extra: {
      // Every task of the run stays gettable: a pruned one would count as lost.
      queue: { retention: { maxFinished: 1_000_000 } },
      deploy: {
        steps: [5, 25, 50, 100],
        minHealthyTimeMs: 1000,
        minStepDurationMs: options.stepSeconds * 1000,
        minSamples: 50,
        bakeTimeMs: 1000,
        intervalMs: 100,
        drainTimeoutMs: 5000,
        backupBeforePromote: true,
      },
    },
  });
  try {
    const perTick = 10;
    const tickMs = 20;
    const samples = sampler(daemon);
    const load = pacedLoad(daemon, perTick, tickMs);
    options.log(`baseline: ${options.baselineSeconds} s at 500 tasks/s through 4 echo bots`);
    await sleep(1000);
    const baseFrom = Date.now();
    await sleep(options.baselineSeconds * 1000);
    const baseline = samples.rate(baseFrom, Date.now());
    options.log('canary deployment 5, 25, 50, 100 under the same load');
    const started = Date.now();
    await daemon.call('deploy.start', {
      kind: 'echo',
      command: ECHO_BOT,
      env: { HIVE_BENCH_VERSION: 'v2' },
    });
    const windows = await watchSteps(daemon);
    const deploySeconds = (Date.now() - started) / 1000;
    await waitFor(
      async () => ((await view(daemon))?.finishedAt !== undefined ? true : undefined),
      'the promotion to end',
      60_000,
    );
    const ids = await load.stop();
    await samples.stop();
    const { done, bad } = await settle(daemon, ids);
    const steps = windows.map((w) => {
      const perSecond = samples.rate(w.from, w.to);
      return {
        weight: w.weight,
        seconds: round((w.to - w.from) / 1000, 1),
        perSecond: round(perSecond, 1),
        dipPercent: round(Math.max(0, (1 - perSecond / baseline) * 100), 1),
      };
    });
    options.log('abort under load at 50%');
    const abort = await abortUnderLoad(daemon);
    return {
      ratePerSecond: (perTick * 1000) / tickMs,
      baselinePerSecond: round(baseline, 1),
      steps,
      submitted: ids.length,
      done,
      failedOrLost: bad,
      deploySeconds: round(deploySeconds, 1),
      abort,
    };
  } finally {
    await daemon.stop();
  }
}
