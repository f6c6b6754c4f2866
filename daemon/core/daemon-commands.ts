import type { Bot } from '../bots/bot.ts';
import { botView } from '../bots/commands.ts';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Counts } from '../tasks/task-queue.ts';

export interface DaemonStatusSource {
  /** Parts may add sections of their own (e.g. `audit`); they are passed through. */
  status(): {
    daemon: Record<string, unknown>;
    bots: Bot[];
    queue: Counts;
    [section: string]: unknown;
  };
  stop(reason: string): void;
}

/** Commands about the daemon as a whole: status, stop, the command list. */
export function registerDaemonCommands(router: CommandRouter, source: DaemonStatusSource): void {
  router.register({
    name: 'status',
    summary: 'The daemon, its bots and the queue',
    mutating: false,
    args: args({}),
    handler: () => {
      const { daemon, bots, queue, ...sections } = source.status();
      return { daemon, bots: bots.map(botView), queue, ...sections };
    },
  });

  router.register({
    name: 'daemon.stop',
    summary: 'Stop the daemon gracefully (drain, stop bots, write the shutdown marker)',
    mutating: true,
    args: args({}),
    handler: (_a, ctx) => {
      // Answer first: the stop closes this very connection.
      setImmediate(() => source.stop(`hive stop by ${ctx.actor.user}`));
      return { stopping: true, pid: process.pid };
    },
  });

  router.register({
    name: 'commands',
    summary: 'List the commands this daemon understands',
    mutating: false,
    args: args({}),
    handler: () => ({ commands: router.list() }),
  });
}
