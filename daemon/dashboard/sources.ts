/**
 * The dashboard's live views, each read through a router command (the same
 * answer `hive` gets) and refreshed on its parts' events. Reads call the
 * command's handler directly: they are the daemon showing its own state on
 * an open page, not a user's request, so they are not audited one by one
 * (the audit view would otherwise refresh itself forever).
 */
import type { Audit } from '../audit/audit.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { Degradation } from '../degradation/degradation.ts';
import type { Health } from '../health/health.ts';
import { onTopChange } from '../health/top.ts';
import type { CommandContext, CommandRouter } from '../ipc/router.ts';
import { DEAD_STATES } from '../messenger/commands.ts';
import type { MessageStore } from '../messenger/store.ts';
import type { RecoveryService } from '../recovery/recovery.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import type { ViewSource } from './live-hub.ts';

const DASHBOARD_CONTEXT: CommandContext = {
  actor: { user: 'dashboard', via: 'web' },
  signal: new AbortController().signal,
  emit: () => {},
};

/** Reads one read-only command's answer, or undefined when this daemon lacks the command. */
export async function readCommand(
  router: CommandRouter,
  cmd: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const command = router.get(cmd);
  if (!command || command.mutating) return undefined;
  return command.handler(command.args.parse(args), DASHBOARD_CONTEXT);
}

/** A view named `name` that shows `cmd`'s answer and refreshes when `subscribe` says so. */
export function commandSource(
  router: CommandRouter,
  view: {
    name: string;
    cmd: string;
    args?: Record<string, unknown>;
    subscribe(onChange: () => void): () => void;
    minGapMs?: number;
  },
): ViewSource {
  return {
    name: view.name,
    read: async () => (await readCommand(router, view.cmd, view.args)) ?? { unavailable: true },
    subscribe: view.subscribe,
    ...(view.minGapMs !== undefined ? { minGapMs: view.minGapMs } : {}),
  };
}

export interface DashboardParts {
  bots: BotSupervisor;
  degradation: Degradation;
  health: Health;
  queue: TaskQueue;
  recovery: RecoveryService;
  audit: Audit;
}

const all =
  (...offs: (() => void)[]) =>
  () => {
    for (const off of offs) off();
  };

/** How many entries the audit view and the dead-letter views hold (newest first). */
export const VIEW_ROWS = 100;

/** The audit view's own push gap (BENCHMARKS.md 13: the costliest view under load). */
const AUDIT_VIEW_GAP_MS = 1000;

/** The views every hived has: status (as `hive top`), daemon, dead letters, backups, audit. */
export function coreSources(router: CommandRouter, parts: DashboardParts): ViewSource[] {
  const { queue, recovery, audit } = parts;
  const recoveryEvents = (poke: () => void) =>
    all(
      recovery.on('backup.created', poke),
      recovery.on('backup.pruned', poke),
      recovery.on('backup.verified', poke),
      recovery.on('restore.finished', poke),
    );
  return [
    commandSource(router, {
      name: 'top',
      cmd: 'top',
      args: { once: true },
      // Task state changes move the queue counts (throughput) between monitor samples.
      subscribe: (poke) => all(onTopChange(parts, poke), queue.on('changed', poke)),
    }),
    commandSource(router, { name: 'status', cmd: 'status', subscribe: recoveryEvents }),
    commandSource(router, {
      name: 'dead',
      cmd: 'task.ls',
      args: { state: 'dead', limit: VIEW_ROWS },
      subscribe: (poke) =>
        queue.on('changed', ({ task, from }) => {
          if (task.state === 'dead' || from === 'dead') poke();
        }),
    }),
    commandSource(router, { name: 'backups', cmd: 'backup.ls', subscribe: recoveryEvents }),
    commandSource(router, {
      name: 'audit',
      cmd: 'audit.tail',
      args: { lines: VIEW_ROWS },
      subscribe: (poke) => audit.trail.on('written', poke),
      // Every command writes an entry: under load this view would redraw 10 times a second
      // with 100 entries (~40 KB a page); once a second is as fast as anyone reads it.
      minGapMs: AUDIT_VIEW_GAP_MS,
    }),
  ];
}

/**
 * The messenger's dead letters (`msg.dead`: dead and expired messages), refreshed when a
 * message becomes one or leaves them (a requeue). main.ts adds it: the messenger is not
 * one of the core parts.
 */
export function deadMessagesSource(router: CommandRouter, messages: MessageStore): ViewSource {
  return commandSource(router, {
    name: 'deadMessages',
    cmd: 'msg.dead',
    args: { limit: VIEW_ROWS },
    subscribe: (poke) =>
      messages.on('changed', ({ message, from }) => {
        if (DEAD_STATES.has(message.state) || (from !== undefined && DEAD_STATES.has(from))) poke();
      }),
  });
}
