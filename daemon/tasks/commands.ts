import { z } from 'zod';
import { HiveError } from '../../protocol/errors.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { Config } from '../config/schema.ts';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Dispatcher } from './dispatcher.ts';
import { FINAL_STATES, TASK_STATES, type Task } from './task.ts';
import type { TaskQueue } from './task-queue.ts';

/** The `hive task get --json` shape (a contract: fields are added, never renamed). */
export function taskView(task: Task) {
  return {
    id: task.id,
    type: task.type,
    state: task.state,
    attempts: task.attempts,
    maxAttempts: task.maxAttempts,
    priority: task.priority,
    ...(task.key !== undefined ? { key: task.key } : {}),
    ...(task.state === 'done' ? { result: task.result } : {}),
    ...(task.error && task.state !== 'done' ? { error: task.error } : {}),
    ...(task.lease ? { bot: task.lease.bot } : {}),
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    ...(task.finishedAt !== undefined ? { finishedAt: task.finishedAt } : {}),
    timeoutMs: task.timeoutMs,
    history: task.history,
  };
}

/** The short form used by lists and submit answers. */
function outcome(task: Task) {
  return {
    id: task.id,
    state: task.state,
    ...(task.state === 'done' ? { result: task.result } : {}),
    ...(task.error && FINAL_STATES.has(task.state) && task.state !== 'done'
      ? { error: task.error }
      : {}),
  };
}

export interface TaskCommandDeps {
  queue: TaskQueue;
  dispatcher: Dispatcher;
  bots: BotSupervisor;
  config: () => Config['queue'];
  acceptingWork: () => boolean;
}

const taskId = z.string().min(1).max(64);

/** A per-task setting above the configured ceiling is refused, naming the key that sets it. */
function checkLimit(name: string, value: number | undefined, max: number, key: string): void {
  if (value !== undefined && value > max)
    throw new HiveError(
      'HIVE_IPC_BAD_ARGS',
      `task.submit: ${name}: at most ${max} (${key}), got ${value}`,
    );
}

export function registerTaskCommands(router: CommandRouter, deps: TaskCommandDeps): void {
  const { queue, dispatcher, bots } = deps;

  router.register({
    name: 'task.submit',
    summary: 'Submit a task; acknowledged once it is on disk',
    mutating: true,
    args: args({
      type: z.string().min(1).max(100),
      payload: z.unknown().optional(),
      priority: z.number().int().min(0).max(9).optional(),
      key: z.string().min(1).max(200).optional(),
      timeoutMs: z.number().int().min(1).optional(),
      maxAttempts: z.number().int().min(1).optional(),
      wait: z.boolean().optional(),
      waitTimeoutMs: z.number().int().min(1).optional(),
    }),
    async handler(a, ctx) {
      if (!deps.acceptingWork())
        throw new HiveError(
          'HIVE_DAEMON_STOPPING',
          'hived is stopping and accepts no new tasks; retry once it is back',
        );
      if (!bots.handles(a.type)) {
        const known = [
          ...new Set(bots.kinds().flatMap((k) => [...(bots.pool(k)?.spec.taskTypes ?? [])])),
        ];
        throw new HiveError(
          'HIVE_TASK_UNKNOWN_TYPE',
          `no bot kind handles task type ${JSON.stringify(a.type)}; known types: ${known.join(', ') || 'none'}`,
        );
      }
      const config = deps.config();
      checkLimit('timeoutMs', a.timeoutMs, config.maxTaskTimeoutMs, 'queue.maxTaskTimeoutMs');
      checkLimit('maxAttempts', a.maxAttempts, config.maxTaskAttempts, 'queue.maxTaskAttempts');
      if (queue.unfinished >= config.maxQueued) {
        throw new HiveError(
          'HIVE_TASK_QUEUE_FULL',
          `the queue holds ${queue.unfinished} unfinished tasks (queue.maxQueued); retry later`,
        );
      }
      const kindTimeout = bots
        .kinds()
        .map((k) => bots.pool(k)?.spec)
        .find((s) => s?.taskTypes.has(a.type))?.taskTimeoutMs;
      const { task, created } = await queue.submit({
        type: a.type,
        payload: a.payload ?? null,
        priority: a.priority ?? config.defaultPriority,
        ...(a.key !== undefined ? { key: a.key } : {}),
        timeoutMs: a.timeoutMs ?? kindTimeout ?? config.defaultTimeoutMs,
        maxAttempts: a.maxAttempts ?? config.retry.maxAttempts,
        submittedBy: ctx.actor.user,
      });
      if (!a.wait) return { id: task.id, state: task.state, created };
      const signals = [
        ctx.signal,
        ...(a.waitTimeoutMs ? [AbortSignal.timeout(a.waitTimeoutMs)] : []),
      ];
      try {
        const final = await queue.waitFor(task.id, AbortSignal.any(signals));
        return { ...outcome(final), created };
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const current = queue.get(task.id) ?? task;
        return { id: current.id, state: current.state, created, timedOut: true };
      }
    },
  });

  router.register({
    name: 'task.get',
    summary: 'Show one task with its attempts',
    mutating: false,
    args: args({ id: taskId }),
    handler: (a) => taskView(queue.require(a.id)),
  });

  router.register({
    name: 'task.wait',
    summary: 'Wait until a task is final',
    mutating: false,
    args: args({ id: taskId, timeoutMs: z.number().int().min(1).optional() }),
    async handler(a, ctx) {
      const signals = [ctx.signal, ...(a.timeoutMs ? [AbortSignal.timeout(a.timeoutMs)] : [])];
      try {
        return outcome(await queue.waitFor(a.id, AbortSignal.any(signals)));
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        return { ...outcome(queue.require(a.id)), timedOut: true };
      }
    },
  });

  router.register({
    name: 'task.ls',
    summary: 'List tasks, newest first',
    mutating: false,
    args: args({
      state: z.enum(TASK_STATES as [string, ...string[]]).optional(),
      type: z.string().optional(),
      limit: z.number().int().min(1).max(10_000).default(20),
    }),
    handler: (a) => ({
      tasks: queue
        .list({
          limit: a.limit,
          ...(a.state ? { state: a.state as Task['state'] } : {}),
          ...(a.type ? { type: a.type } : {}),
        })
        .map((t) => ({
          id: t.id,
          type: t.type,
          state: t.state,
          priority: t.priority,
          attempts: t.attempts,
          createdAt: t.createdAt,
          updatedAt: t.updatedAt,
          ...(t.lease ? { bot: t.lease.bot } : {}),
          ...(t.error && t.state !== 'done' ? { error: t.error } : {}),
        })),
      counts: queue.counts(),
    }),
  });

  router.register({
    name: 'task.cancel',
    summary: 'Cancel a queued or running task',
    mutating: true,
    args: args({ id: taskId, reason: z.string().max(500).optional() }),
    async handler(a, ctx) {
      const task = await dispatcher.cancel(
        a.id,
        a.reason ?? `cancelled by ${ctx.actor.user}`,
        ctx.actor.user,
      );
      return { id: task.id, state: task.state };
    },
  });

  router.register({
    name: 'task.retry',
    summary: 'Send a dead or failed task back to the queue with fresh attempts',
    mutating: true,
    args: args({ id: taskId }),
    async handler(a, ctx) {
      const task = await queue.retry(a.id, ctx.actor.user);
      return { id: task.id, state: task.state, attempts: task.attempts };
    },
  });
}
