import { z } from 'zod';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { ConfigManager } from './manager.ts';

/** `hive config ...` on the daemon side (`config check` runs without a daemon: hived --check-config). */
export function registerConfigCommands(router: CommandRouter, config: ConfigManager): void {
  router.register({
    name: 'config.show',
    summary: 'The effective config (secrets redacted) and where each value came from',
    mutating: false,
    args: args({}),
    handler: () => config.show(),
  });

  router.register({
    name: 'config.get',
    summary: 'One config value by dotted key path',
    mutating: false,
    args: args({ key: z.string().max(300) }),
    handler: (a) => config.get(a.key),
  });

  router.register({
    name: 'config.reload',
    summary: 'Read the config files again and apply them; answers with the diff or the errors',
    mutating: true,
    args: args({}),
    handler: (_a, ctx) => config.reload('command', ctx.actor),
  });

  router.register({
    name: 'config.status',
    summary: 'Config files, last load, checksum, last error, keys waiting for a restart',
    mutating: false,
    args: args({}),
    handler: () => config.status(),
  });
}
