/**
 * Deployments (issue 8): the views `deploy.status` and `deploy.history`
 * answer and the deploy part's `changed` event carries. Shared by the
 * daemon, the client and the web dashboard (issue 10 codes against it).
 */

export const DEPLOY_STATES = [
  'idle',
  'staging',
  'canary',
  'shifting',
  'paused',
  'promoted',
  'rolled_back',
] as const;
export type DeployState = (typeof DEPLOY_STATES)[number];

export const DEPLOY_STRATEGIES = ['canary', 'bluegreen'] as const;
export type DeployStrategy = (typeof DEPLOY_STRATEGIES)[number];

export type DeployPool = 'blue' | 'green';

/** The pool and version that ran an attempt (recorded in the task's history). */
export interface ReleaseLabel {
  pool: DeployPool;
  version: string;
}

export interface DeployPoolView {
  pool: DeployPool;
  version: string;
  bots: string[];
  /** Counts of the current step's window (the same window for both pools). */
  done: number;
  failed: number;
  timeouts: number;
  crashes: number;
  errorRate: number;
  timeoutRate: number;
  p95Ms: number | null;
  /** Tasks dispatched to this pool in the current step. */
  dispatched?: number;
}

export const VERDICTS = ['PASS', 'FAIL', 'INCONCLUSIVE', 'ERROR'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface DeployVerdictView {
  result: Verdict;
  reason: string;
  at: number;
}

export interface DeploymentView {
  id: string;
  kind: string;
  strategy: DeployStrategy;
  state: DeployState;
  /** Index into `steps` (the current step). */
  step: number;
  /** Green's target share of dispatched tasks per step, in percent. */
  steps: number[];
  /** Percent of dispatched tasks: the target, and what the current step achieved so far. */
  weight: { target: number; achieved: number | null };
  blue: DeployPoolView;
  green: DeployPoolView;
  verdict: DeployVerdictView | null;
  /** Why it is in its state (the last action or verdict, in words). */
  reason: string;
  startedAt: number;
  updatedAt: number;
  /** What the current state waits for (a hold, a pause, a drain), when anything. */
  waiting?: string;
  /** When the deployment ended (promoted and baked, or rolled back and drained). */
  finishedAt?: number;
}

export interface DeployStatusAnswer {
  deployments: DeploymentView[];
}
