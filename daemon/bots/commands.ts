import { z } from 'zod';
import type { BotView } from '../../protocol/views.ts';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Bot } from './bot.ts';
import type { BotSupervisor } from './supervisor.ts';

/** One bot as `hive status --json` and `hive bots ls --json` show it (a contract). */
export function botView(bot: Bot): BotView {
  return {
    name: bot.name,
    kind: bot.kind,
    pid: bot.pid ?? null,
    state: bot.state,
    restarts: bot.restarts,
    tasksDone: bot.tasksDone,
    tasksFailed: bot.tasksFailed,
    inflight: bot.inflight.size,
    concurrency: bot.concurrency,
    configuredConcurrency: bot.spec.concurrency,
    transport: bot.spec.transport,
    rssBytes: bot.rssBytes ?? null,
    ...(bot.version ? { version: bot.version } : {}),
    ...(bot.readyAt ? { readySince: bot.readyAt } : {}),
    ...(bot.failureReason ? { failureReason: bot.failureReason } : {}),
    ...(bot.lastExit ? { lastExit: bot.lastExit } : {}),
  };
}

export function registerBotCommands(router: CommandRouter, bots: BotSupervisor): void {
  router.register({
    name: 'bots.ls',
    summary: 'List bots with state, pid, restarts and work done',
    mutating: false,
    args: args({ kind: z.string().optional() }),
    handler: (a) => ({
      bots: bots
        .bots()
        .filter((b) => !a.kind || b.kind === a.kind)
        .map(botView),
    }),
  });

  router.register({
    name: 'bots.restart',
    summary: 'Restart one bot (also revives a bot marked failed)',
    mutating: true,
    args: args({ name: z.string().min(1) }),
    async handler(a) {
      await bots.restart(a.name);
      return botView(bots.get(a.name));
    },
  });

  router.register({
    name: 'bots.scale',
    summary: 'Set the number of bots of a kind',
    mutating: true,
    args: args({
      kind: z.string().min(1),
      instances: z.number().int().min(0).max(1000),
      /** Scale up even while the mode pauses scale-ups (degradation). */
      force: z.boolean().optional(),
    }),
    async handler(a) {
      const { from, to } = await bots.scale(a.kind, a.instances);
      return { kind: a.kind, from, to };
    },
  });
}
