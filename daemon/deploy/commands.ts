import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { DEPLOY_STRATEGIES } from '../../protocol/deploy.ts';
import { KIND_NAME } from '../config/schema-kit.ts';
import { args, type CommandRouter } from '../ipc/router.ts';
import type { Deployments } from './deployments.ts';

const kind = z.string().regex(KIND_NAME);
const reason = z.string().trim().min(1).max(500);

const steps = z
  .array(z.number().int().min(1).max(100))
  .min(1)
  .max(20)
  .refine((s) => s.every((v, i) => i === 0 || v > (s[i - 1] as number)), 'steps must increase')
  .refine((s) => s.at(-1) === 100, 'the last step must be 100');

export function registerDeployCommands(router: CommandRouter, deployments: Deployments): void {
  router.register({
    name: 'deploy.start',
    summary: 'Start a new version of a bot kind beside the running one and shift its traffic',
    mutating: true,
    args: args({
      kind,
      command: z.string().min(1).max(4096),
      args: z.array(z.string().max(4096)).max(200).default([]),
      env: z.record(z.string().min(1), z.string()).default({}),
      cwd: z
        .string()
        .refine(isAbsolute, 'cwd must be an absolute path (the client resolves it)')
        .optional(),
      instances: z.number().int().min(1).max(1000).optional(),
      concurrency: z.number().int().min(1).max(10_000).optional(),
      memoryLimitMb: z.number().int().min(1).optional(),
      strategy: z.enum(DEPLOY_STRATEGIES).optional(),
      steps: steps.optional(),
      version: z.string().trim().min(1).max(100).optional(),
    }),
    handler: (a, ctx) =>
      deployments.begin(
        {
          kind: a.kind,
          launch: {
            command: a.command,
            args: a.args,
            env: a.env,
            ...(a.cwd === undefined ? {} : { cwd: a.cwd }),
            ...(a.concurrency === undefined ? {} : { concurrency: a.concurrency }),
            ...(a.memoryLimitMb === undefined ? {} : { memoryLimitMb: a.memoryLimitMb }),
          },
          ...(a.instances === undefined ? {} : { instances: a.instances }),
          ...(a.strategy === undefined ? {} : { strategy: a.strategy }),
          ...(a.steps === undefined ? {} : { steps: a.steps }),
          ...(a.version === undefined ? {} : { version: a.version }),
        },
        ctx.actor.user,
      ),
  });

  router.register({
    name: 'deploy.status',
    summary:
      'One deployment per kind (under way, else the last finished): state, weights, pools, verdict',
    mutating: false,
    args: args({ kind: kind.optional(), follow: z.boolean().default(false) }),
    async handler(a, ctx) {
      const now = { deployments: deployments.status(a.kind) };
      if (!a.follow) return now;
      // Follow: the current views, then every change until the client cancels.
      ctx.emit(now);
      const off = deployments.on('changed', (view) => {
        if (a.kind === undefined || view.kind === a.kind) ctx.emit({ deployments: [view] });
      });
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      off();
      return { followed: true };
    },
  });

  router.register({
    name: 'deploy.history',
    summary: 'Finished deployments, newest first, with the numbers they ended on',
    mutating: false,
    args: args({ kind: kind.optional() }),
    handler: (a) => ({ deployments: deployments.history(a.kind) }),
  });

  router.register({
    name: 'deploy.pause',
    summary: "Hold a deployment at its step (traffic stays at the step's weight)",
    mutating: true,
    args: args({ kind, reason: reason.optional() }),
    handler: (a, ctx) =>
      deployments.pause(a.kind, a.reason ?? `paused by ${ctx.actor.user}`, ctx.actor.user),
  });

  router.register({
    name: 'deploy.resume',
    summary: 'Continue a paused deployment',
    mutating: true,
    args: args({ kind }),
    handler: (a, ctx) => deployments.resume(a.kind, ctx.actor.user),
  });

  router.register({
    name: 'deploy.promote',
    summary: 'Pass the current step by hand (next step), or with full: promote at once',
    mutating: true,
    args: args({ kind, full: z.boolean().default(false) }),
    handler: (a, ctx) => deployments.promote(a.kind, a.full, ctx.actor.user),
  });

  router.register({
    name: 'deploy.abort',
    summary: "Roll back: green's weight to 0, its running tasks drain, the rest go to blue",
    mutating: true,
    args: args({ kind, reason }),
    handler: (a, ctx) => deployments.abort(a.kind, a.reason, ctx.actor.user),
  });

  router.register({
    name: 'deploy.retry',
    summary: "Start a kind's last rolled-back deployment again from step 0",
    mutating: true,
    args: args({ kind }),
    handler: (a, ctx) => deployments.retry(a.kind, ctx.actor.user),
  });
}
