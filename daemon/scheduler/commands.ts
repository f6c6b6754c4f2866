import { z } from 'zod';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Scheduling } from './scheduling.ts';

export function registerSchedulerCommands(router: CommandRouter, scheduling: Scheduling): void {
  router.register({
    name: 'sched.stats',
    summary: 'Scheduling statistics and efficiency scores per bot and task type',
    mutating: false,
    args: args({ type: z.string().min(1).max(100).optional() }),
    handler: (a) => scheduling.report(a.type),
  });
}
