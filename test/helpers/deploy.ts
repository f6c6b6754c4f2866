/**
 * Helpers for deployment tests (issue 8): a kind of the versioned fixture
 * bot, test-sized deployment settings, a steady task load, and checks that
 * every task ended done exactly once.
 */
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Connection } from '../../client/connection.ts';
import type { DeploymentView } from '../../protocol/deploy.ts';
import { type DaemonHandle, FIXTURES, fixtureBot, status, waitFor } from './daemon.ts';
import { gate, getTask, type TaskView } from './fleet.ts';

export const VERSIONED = join(FIXTURES, 'versioned.ts');

/** Small steps and windows: a whole deployment takes a few seconds under load. */
export function deployConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    steps: [10, 50, 100],
    minHealthyTimeMs: 200,
    minStepDurationMs: 300,
    minSamples: 20,
    bakeTimeMs: 400,
    intervalMs: 50,
    drainTimeoutMs: 3_000,
    healthyDeadlineMs: 15_000,
    maxCrashes: 3,
    ...extra,
  };
}

/** The deployed kind: `work`, v1, with test timings. */
export function workKind(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return fixtureBot(VERSIONED, {
    instances: 2,
    concurrency: 4,
    env: { HIVE_FIXTURE_VERSION: 'v1' },
    ...extra,
  });
}

export function testConfig(
  deploy: Record<string, unknown> = {},
  kind: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    // A busy test machine must not turn hived DEGRADED on its own: that holds every shift.
    degradation: { enabled: false },
    supervision: { tickMs: 50 },
    queue: { retry: { initialDelayMs: 10, maxDelayMs: 50 }, maxTaskAttempts: 5 },
    deploy: deployConfig(deploy),
    bots: { work: workKind(kind) },
  };
}

export async function deployStatus(daemon: DaemonHandle, kind = 'work'): Promise<DeploymentView> {
  const { deployments } = (await daemon.call('deploy.status', { kind })) as {
    deployments: DeploymentView[];
  };
  const found = deployments[0];
  if (!found) throw new Error(`no deployment of ${kind}`);
  return found;
}

/** Waits until the kind's deployment matches `check`; the error shows its last view. */
export async function waitDeploy(
  daemon: DaemonHandle,
  check: (view: DeploymentView) => boolean,
  { what = 'deployment state', timeoutMs = 60_000 } = {},
): Promise<DeploymentView> {
  let last: DeploymentView | undefined;
  try {
    return await waitFor(
      async () => {
        last = await deployStatus(daemon);
        return check(last) ? last : undefined;
      },
      { what, timeoutMs, intervalMs: 50 },
    );
  } catch (error) {
    throw new Error(`${String(error)}\nlast view: ${JSON.stringify(last, null, 1)}`);
  }
}

export function startV2(
  daemon: DaemonHandle,
  env: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Promise<DeploymentView> {
  return daemon.call('deploy.start', {
    kind: 'work',
    command: VERSIONED,
    env: { HIVE_FIXTURE_VERSION: 'v2', ...env },
    ...extra,
  }) as Promise<DeploymentView>;
}

/**
 * Submits `work` tasks at a steady pace on one connection until stopped;
 * returns the ids. Generous for a loaded machine: one task every `everyMs`.
 */
export function steadyLoad(
  connection: Connection,
  { everyMs = 5, payload = {} as Record<string, unknown> } = {},
): { ids: string[]; stop(): Promise<string[]> } {
  const ids: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = (await connection.request('task.submit', {
        type: 'work',
        payload: { ...payload, n: ids.length },
      })) as { id: string };
      ids.push(answer.id);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    ids,
    async stop() {
      running = false;
      await loop;
      return ids;
    },
  };
}

/** Waits until every task is final; returns them. */
export async function allFinal(
  daemon: DaemonHandle,
  ids: readonly string[],
  timeoutMs = 60_000,
): Promise<TaskView[]> {
  const final = new Set(['done', 'failed', 'dead', 'cancelled']);
  await waitFor(
    async () => {
      const { queue } = await status(daemon);
      return queue.queued === 0 && queue.running === 0;
    },
    { what: 'the queue to empty', timeoutMs },
  );
  const tasks: TaskView[] = [];
  for (const id of ids) tasks.push(await getTask(daemon, id));
  const open = tasks.filter((t) => !final.has(t.state));
  if (open.length > 0) throw new Error(`not final: ${open.map((t) => t.id).join(', ')}`);
  return tasks;
}

/** Attempt outcomes that count as "ran to completion" (a done result). */
export function completions(task: TaskView): number {
  return task.history.filter((a) => a.outcome === 'done').length;
}

/**
 * Waits until every task of a steady load (more than 100) is final and
 * checks each ended done and ran to completion exactly once; returns their
 * attempts.
 */
export async function everyTaskDoneOnce(
  t: ExecutionContext,
  daemon: DaemonHandle,
  ids: readonly string[],
): Promise<ReleasedAttempt[]> {
  const tasks = await allFinal(daemon, ids);
  t.true(tasks.length > 100, `${tasks.length} tasks`);
  for (const task of tasks) {
    t.is(task.state, 'done', `${task.id}: ${task.state}`);
    t.is(completions(task), 1, `${task.id} ran to completion ${completions(task)} times`);
  }
  return tasks.flatMap((task) => task.history as ReleasedAttempt[]);
}

/**
 * With a deployment in its canary step: submits `count` tasks that wait for
 * a gate file and returns once green holds at least `onGreen` of them.
 */
export async function heldTasksOnGreen(
  daemon: DaemonHandle,
  dir: string,
  { count = 12, onGreen = 3 } = {},
): Promise<{ ids: string[]; release(): void }> {
  await waitDeploy(daemon, (v) => v.state === 'canary', { what: 'the canary step' });
  const hold = gate(dir);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = (await daemon.call('task.submit', {
      type: 'work',
      payload: { gate: hold.path, i },
    })) as { id: string };
    ids.push(answer.id);
  }
  await waitDeploy(daemon, (v) => (v.green.dispatched ?? 0) >= onGreen, {
    what: `${onGreen} tasks on green`,
  });
  return { ids, release: hold.open };
}

/** Runs one `work` task to its end; the version that answered it. */
export async function versionServing(daemon: DaemonHandle): Promise<string> {
  const { id } = (await daemon.call('task.submit', { type: 'work', payload: {} })) as {
    id: string;
  };
  await daemon.call('task.wait', { id, timeoutMs: 15_000 });
  const task = (await daemon.call('task.get', { id })) as { result?: { version?: string } };
  return task.result?.version ?? `(no result: ${JSON.stringify(task)})`;
}

export interface ReleasedAttempt {
  bot: string;
  outcome?: string;
  release?: { pool: 'blue' | 'green'; version: string };
}
