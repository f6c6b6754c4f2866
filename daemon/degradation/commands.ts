import { z } from 'zod';
import { MODES } from '../../protocol/health.ts';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Degradation } from './degradation.ts';

export function registerModeCommands(router: CommandRouter, degradation: Degradation): void {
  router.register({
    name: 'mode.get',
    summary: 'The mode, who or what set it, and the signals and thresholds behind it',
    mutating: false,
    args: args({}),
    handler: () => degradation.view(),
  });

  router.register({
    name: 'mode.set',
    summary: 'Hold a mode (full, degraded, maintenance) until mode.auto',
    mutating: true,
    args: args({ mode: z.enum(MODES), reason: z.string().trim().min(1).max(500) }),
    handler: (a, ctx) => degradation.setManual(a.mode, a.reason, ctx.actor.user),
  });

  router.register({
    name: 'mode.auto',
    summary: 'End a mode held by hand: the signals decide again',
    mutating: true,
    args: args({ reason: z.string().trim().min(1).max(500).optional() }),
    handler: (a, ctx) =>
      degradation.clearManual(a.reason ?? `hive mode auto by ${ctx.actor.user}`, ctx.actor.user),
  });
}
