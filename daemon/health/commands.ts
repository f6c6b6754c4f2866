import { z } from 'zod';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Health } from './health.ts';
import { type TopSources, topFrame, watchFrames } from './top.ts';

export function registerHealthCommands(
  router: CommandRouter,
  deps: { health: Health; top: TopSources },
): void {
  const { health } = deps;
  router.register({
    name: 'health.get',
    summary: 'Overall health, each component, and the firing alerts',
    mutating: false,
    args: args({}),
    handler: () => health.view(),
  });

  router.register({
    name: 'alerts.ls',
    summary: 'Pending and firing alerts; with all, the resolved ones kept too',
    mutating: false,
    args: args({ all: z.boolean().default(false) }),
    handler: (a) => ({ alerts: health.alerts(a.all) }),
  });

  router.register({
    name: 'top',
    summary: 'Live frames for hive top (bots, queue, mode, alerts), streamed on every change',
    mutating: false,
    args: args({ once: z.boolean().default(false) }),
    async handler(a, ctx) {
      if (a.once) return topFrame(deps.top);
      let frames = 0;
      const stop = watchFrames(deps.top, (frame) => {
        frames += 1;
        ctx.emit(frame);
      });
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      stop();
      return { frames };
    },
  });
}
