import type { Bot } from '../bots/bot.ts';
import type { DeployConfig } from '../config/schema-deploy.ts';
import { type AnalysisResult, analyse, analyseBake, PoolWindow } from './analysis.ts';
import type { LiveDeployment } from './record.ts';

/**
 * The decisions of a deployment's clock, apart from their effects: the
 * health gates, the end of STAGING, what a step's verdict leads to, and the
 * bake's gates after a promotion. The deploy part persists and acts on what
 * these answer.
 */

/** The health gates (they fire whatever the analysis says): the reason to roll back, if any. */
export function gateReason(live: LiveDeployment, c: DeployConfig, now: number): string | undefined {
  if (now - live.rec.startedAt > c.progressDeadlineMs)
    return `progress deadline: not promoted within ${c.progressDeadlineMs} ms`;
  const crashed = crashGate(live, c, now);
  if (crashed) return crashed;
  if (live.greenReadyAt === null && now - live.greenStartedAt > c.healthyDeadlineMs)
    return `no green bot became ready within healthyDeadline (${c.healthyDeadlineMs} ms)`;
  return undefined;
}

/** `maxCrashes` green crashes within `crashWindowMs` (older crashes are forgotten). */
function crashGate(live: LiveDeployment, c: DeployConfig, now: number): string | undefined {
  live.crashTimes = live.crashTimes.filter((t) => now - t <= c.crashWindowMs);
  if (live.crashTimes.length >= c.maxCrashes)
    return `green crashed ${live.crashTimes.length} times within ${c.crashWindowMs} ms`;
  return undefined;
}

/** STAGING ends once every green bot is ready and has stayed so for minHealthyTimeMs. */
export function stagingDone(
  live: LiveDeployment,
  green: readonly Bot[],
  c: DeployConfig,
  now: number,
): boolean {
  if (green.length === 0 || !green.every((b) => b.state === 'ready')) {
    live.healthySince = null;
    return false;
  }
  live.healthySince ??= now;
  return now - live.healthySince >= c.minHealthyTimeMs;
}

export type Decision =
  /** PASS: the next step, or the promotion after the last (or a bluegreen's only) step. */
  | { next: 'step' | 'promote'; outcome: AnalysisResult }
  | { next: 'rollback'; outcome: AnalysisResult; reason: string }
  /** ERROR below the limit: count it and measure again on a fresh window. */
  | { next: 'remeasure'; outcome: AnalysisResult }
  /** INCONCLUSIVE past maxHold with onMaxHold: pause. */
  | { next: 'pause'; outcome: AnalysisResult; reason: string }
  /** INCONCLUSIVE: hold the step. */
  | { next: 'hold'; outcome: AnalysisResult };

/** Judges the current step and says what follows (the hold clock lives on `live`). */
export function decide(live: LiveDeployment, c: DeployConfig, now: number): Decision {
  const { rec } = live;
  const outcome = analyseStep(live, c, now);
  switch (outcome.result) {
    case 'PASS':
      live.holdSince = null;
      return {
        next: rec.step >= rec.steps.length - 1 || rec.strategy === 'bluegreen' ? 'promote' : 'step',
        outcome,
      };
    case 'FAIL':
      return {
        next: 'rollback',
        outcome,
        reason: `analysis failed at step ${rec.step}: ${outcome.reason}`,
      };
    case 'ERROR':
      if (rec.analysisErrors + 1 < c.maxAnalysisErrors) return { next: 'remeasure', outcome };
      return {
        next: 'rollback',
        outcome,
        reason: `${rec.analysisErrors + 1} analyses could not measure (last: ${outcome.reason})`,
      };
    case 'INCONCLUSIVE': {
      live.holdSince ??= now;
      if (now - live.holdSince <= c.maxHoldMs) return { next: 'hold', outcome };
      live.holdSince = null;
      if (c.onMaxHold === 'fail')
        return {
          next: 'rollback',
          outcome,
          reason: `held inconclusive past maxHold: ${outcome.reason}`,
        };
      return {
        next: 'pause',
        outcome,
        reason: `held inconclusive past maxHold (${outcome.reason}); hive deploy resume or promote`,
      };
    }
  }
}

/**
 * The bake's gates (`deploy.bakeGates`), while a promoted green takes all
 * the traffic and blue stays warm: the crash gate of the steps, and green's
 * error and timeout rates over the bake window against the baseline of the
 * last step (analyseBake). Either failing rolls back to blue; else it holds
 * until the bake is over.
 */
export function judgeBake(
  live: LiveDeployment,
  c: DeployConfig,
  now: number,
): Extract<Decision, { next: 'rollback' | 'hold' }> {
  const input = {
    green: live.windows.green,
    blue: live.bakeBaseline ?? new PoolWindow(),
    elapsedMs: now - live.rec.stepStartedAt,
  };
  const outcome = analyseBake(input, c);
  const crashed = crashGate(live, c, now);
  const failed = crashed ?? (outcome.result === 'FAIL' ? outcome.reason : undefined);
  if (failed === undefined) return { next: 'hold', outcome };
  const reason = `bake gate: ${failed}`;
  return { next: 'rollback', outcome: { ...outcome, result: 'FAIL', reason }, reason };
}

/**
 * What green is judged against in the current step: blue in the same
 * window, or when blue ran too little there (a 100% step) its whole
 * deployment. A snapshot: later attempts do not change it.
 */
export function baselineOf(live: LiveDeployment, c: DeployConfig): PoolWindow {
  const { blue } = live.windows;
  return copyOf(blue.finished >= c.minSamples ? blue : live.blueTotal);
}

function analyseStep(live: LiveDeployment, c: DeployConfig, now: number): AnalysisResult {
  const { green } = live.windows;
  try {
    const baseline = baselineOf(live, c);
    return analyse({ green, blue: baseline, elapsedMs: now - live.rec.stepStartedAt }, c);
  } catch (error) {
    return { result: 'ERROR', reason: `analysis threw: ${String(error)}`, numbers: {} };
  }
}

function copyOf(window: PoolWindow): PoolWindow {
  const copy = new PoolWindow();
  copy.absorb(window);
  return copy;
}
