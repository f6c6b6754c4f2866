/**
 * Issue 8's deployment view, as the dashboard's Deployments panel reads it
 * (`deploy.status` answers `{deployments: DeploymentView[]}`; `deploy.pause`,
 * `resume`, `promote` and `abort` take `{kind, reason?}`).
 * A local copy of the contract: replace with `import type { DeploymentView }
 * from '../../protocol/deploy.ts'` once issue 8 is merged.
 */
export interface DeployPoolView {
  pool: 'blue' | 'green';
  version: string;
  bots: string[];
  done: number;
  failed: number;
  timeouts: number;
  crashes: number;
  errorRate: number;
  timeoutRate: number;
  p95Ms: number | null;
}

export interface DeploymentView {
  id: string;
  kind: string;
  strategy: 'canary' | 'bluegreen';
  state: 'idle' | 'staging' | 'canary' | 'shifting' | 'paused' | 'promoted' | 'rolled_back';
  step: number;
  steps: number[];
  weight: { target: number; achieved: number | null };
  blue: DeployPoolView;
  green: DeployPoolView;
  verdict: {
    result: 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'ERROR';
    reason: string;
    at: number | string;
  } | null;
  reason: string;
  startedAt: number | string;
  updatedAt: number | string;
}

/** The commands the panel's buttons send, by button. */
export const DEPLOY_ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;
