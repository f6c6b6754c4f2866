import type { DeploymentView, DeployStrategy } from '../../protocol/deploy.ts';
import type { BotSpec, Launch } from '../bots/spec.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { JsonDocument } from '../store/json-document.ts';
import type { DeployDoc } from './record.ts';
import type { WeightedPools } from './weights.ts';

/** What the deployment part offers (events, requests) and what it needs of the daemon. */

/** The audit actions a deployment produces (protocol/audit.ts lists them; AUDIT.md documents them). */
export type DeployAuditAction =
  | 'deploy.started'
  | 'deploy.step'
  | 'deploy.verdict'
  | 'deploy.paused'
  | 'deploy.resumed'
  | 'deploy.promoted'
  | 'deploy.rolled_back'
  | 'deploy.finished';

export interface DeployAction {
  action: DeployAuditAction;
  actor: string;
  kind: string;
  id: string;
  reason: string;
  details: Record<string, unknown>;
}

export interface DeployEvents {
  /** Every state, step, weight or verdict change. */
  changed: DeploymentView;
  /** Every action and verdict worth a line in the audit trail. */
  action: DeployAction;
}

export interface StartRequest {
  kind: string;
  launch: Launch;
  instances?: number;
  strategy?: DeployStrategy;
  steps?: number[];
  version?: string;
}

/** What the deployment part uses of the rest of the daemon. */
export interface DeployDeps {
  clock: Clock;
  log: Logger;
  bots: BotSupervisor;
  doc: JsonDocument<DeployDoc>;
  /** The pool step of the scheduler (Scheduling.setPoolSelector). */
  setPoolSelector(selector: WeightedPools): void;
  /** Puts the tasks of these bots back in the queue (the dispatcher). */
  requeueFrom(bots: ReadonlySet<string>, reason: string): Promise<number>;
  /** A kind's spec as the config says it (no deployment applied), or undefined. */
  configSpec(kind: string): BotSpec | undefined;
  /** Why shifting is paused now (degradation: DEGRADED), or undefined. */
  shiftPaused(): string | undefined;
  /** Takes a backup before a promote (the recovery part). */
  beforePromote(id: string): Promise<unknown>;
}
