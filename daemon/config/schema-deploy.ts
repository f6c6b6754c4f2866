import { z } from 'zod';
import { DEPLOY_STRATEGIES } from '../../protocol/deploy.ts';
import { KIND_NAME, ms, positive } from './schema-kit.ts';

/**
 * The deployment part's config (issue 8). Split from schema.ts by concern;
 * ConfigSchema puts it in as `deploy`.
 */

const percentSteps = z
  .array(z.number().int().min(1).max(100))
  .min(1)
  .refine((steps) => steps.every((s, i) => i === 0 || s > (steps[i - 1] as number)), {
    message: 'steps must increase',
  })
  .refine((steps) => steps.at(-1) === 100, { message: 'the last step must be 100' });

/** One metric's rule: green fails it when above blue × relative AND above blue + floor. */
function metric(what: string, d: { relative: number; floor: number; critical: boolean }) {
  return z
    .strictObject({
      relative: z
        .number()
        .min(1)
        .default(d.relative)
        .describe(`${what}: green fails when above blue's value times this`),
      floor: z
        .number()
        .min(0)
        .default(d.floor)
        .describe(
          `${what}: ... and more than this above blue's value (differences below it are noise)`,
        ),
      critical: z
        .boolean()
        .default(d.critical)
        .describe(
          `${what}: a failure fails the step by itself (else it takes two failing metrics)`,
        ),
    })
    .prefault({});
}

const kindOverride = z.strictObject({
  strategy: z.enum(DEPLOY_STRATEGIES).optional().describe("This kind's strategy"),
  steps: percentSteps.optional().describe("This kind's steps (green's share in percent)"),
});

export const DeploySchema = z
  .strictObject({
    strategy: z
      .enum(DEPLOY_STRATEGIES)
      .default('canary')
      .describe(
        'canary: shift by the steps with an analysis at each; bluegreen: analyse green on bluegreenShare, then switch 100%',
      ),
    steps: percentSteps
      .default([5, 25, 50, 100])
      .describe("Green's share of dispatched tasks at each canary step, in percent; ends at 100"),
    bluegreenShare: z
      .number()
      .int()
      .min(1)
      .max(99)
      .default(10)
      .describe('The small share green is judged on before a bluegreen switch, in percent'),
    kinds: z
      .record(z.string().regex(KIND_NAME), kindOverride)
      .default({})
      .describe('Per bot kind: strategy and steps that replace the defaults above'),
    minHealthyTimeMs: ms(
      'STAGING: every green bot must be ready and stay up this long before traffic moves',
      5_000,
    ),
    healthyDeadlineMs: positive(
      'No ready green bot this long after green started: abort (a gate that always fires)',
      30_000,
    ),
    minStepDurationMs: ms('A step lasts at least this long before its analysis may pass', 30_000),
    minSamples: positive('Finished green tasks a step needs before it can pass', 50),
    maxHoldMs: positive(
      'A step INCONCLUSIVE (too little data) this long: pause or fail (onMaxHold)',
      600_000,
    ),
    onMaxHold: z
      .enum(['pause', 'fail'])
      .default('pause')
      .describe('What a step held past maxHoldMs does: pause (hive deploy resume) or fail (abort)'),
    progressDeadlineMs: positive(
      'A deployment not promoted this long after its start is aborted',
      3_600_000,
    ),
    maxCrashes: positive('Green crashes within crashWindowMs that abort the deployment', 3),
    crashWindowMs: positive('The window of maxCrashes', 60_000),
    maxAnalysisErrors: positive(
      'Analyses that could not measure (ERROR) before the deployment aborts',
      3,
    ),
    bakeTimeMs: ms(
      'After promotion blue stays running this long (a rollback is then a routing change)',
      60_000,
    ),
    bakeGates: z
      .boolean()
      .default(true)
      .describe(
        "During the bake, watch green: maxCrashes crashes within crashWindowMs, or its error or timeout rate over the bake (minSamples or more) failing the analysis rules against blue's numbers of the last step, roll back to the warm blue",
      ),
    drainTimeoutMs: ms(
      "On abort, time green's running tasks have to finish before they go back to the queue",
      10_000,
    ),
    intervalMs: positive('How often gates and analyses are evaluated', 500),
    onRestart: z
      .enum(['resume', 'revert'])
      .default('resume')
      .describe(
        'A deployment found at daemon start: resume at its step (green restarted) or revert (rolled back)',
      ),
    backupBeforePromote: z
      .boolean()
      .default(true)
      .describe('Take a full backup before a deployment is promoted'),
    analysis: z
      .strictObject({
        errorRate: metric('Error rate (failed attempts / finished attempts)', {
          relative: 1.5,
          floor: 0.05,
          critical: true,
        }),
        timeoutRate: metric('Timeout rate', { relative: 1.5, floor: 0.05, critical: true }),
        p95LatencyMs: metric('p95 latency in ms', { relative: 1.5, floor: 50, critical: false }),
        crashes: metric('Green bot crashes in the window (blue has the same count)', {
          relative: 1,
          floor: 0,
          critical: true,
        }),
      })
      .prefault({}),
    historyLimit: positive('Finished deployments kept for hive deploy history', 50),
  })
  .prefault({});

export type DeployConfig = z.infer<typeof DeploySchema>;
export type MetricRule = DeployConfig['analysis']['errorRate'];
