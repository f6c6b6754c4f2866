import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type {
  DeploymentView,
  DeployPool,
  DeployPoolView,
  DeployState,
} from '../../protocol/deploy.ts';
import type { Bot } from '../bots/bot.ts';
import type { Launch } from '../bots/spec.ts';
import type { DeployConfig } from '../config/schema-deploy.ts';
import { PoolWindow, type Windows } from './analysis.ts';
import type { StartRequest } from './contract.ts';

/** The fields of the view a record keeps as they are. */
type RecordedField =
  | 'id'
  | 'kind'
  | 'strategy'
  | 'state'
  | 'step'
  | 'steps'
  | 'verdict'
  | 'reason'
  | 'startedAt'
  | 'updatedAt';

/**
 * One deployment as db/deployments.json keeps it. Deployment state lives in
 * its own JSON document, not in the task journal: no transition has to be
 * atomic with a task record (a task's pool and version travel in its own
 * lease record), the document is tiny and written a few times per step, and
 * a lost write only repeats the last transition, which is idempotent.
 */
export interface DeployRecord extends Pick<DeploymentView, RecordedField> {
  launch: Launch;
  instances: number;
  version: string;
  blueVersion: string;
  actor: string;
  stepStartedAt: number;
  /** The state a pause interrupted (resume goes back to it). */
  pausedFrom?: DeployState;
  analysisErrors: number;
  /** Set once the end began: `drain` (rolling back) or `bake` (promoted, blue still warm). */
  finishing?: 'drain' | 'bake';
  bakeUntil?: number;
  finishedAt?: number;
  /** The pools' numbers when it ended (history shows them). */
  final?: { blue: DeployPoolView; green: DeployPoolView };
}

/** What a promoted deployment made of a kind, kept while the config still says what it replaced. */
export interface PromotedLaunch {
  id: string;
  version: string;
  launch: Launch;
  /** launchOf() the configured spec at promotion: a config that changes it wins. */
  configLaunch: Record<string, unknown>;
  at: number;
}

export interface DeployDoc {
  seq: number;
  active: Record<string, DeployRecord>;
  history: DeployRecord[];
  promoted: Record<string, PromotedLaunch>;
}

export const EMPTY_DEPLOY_DOC: DeployDoc = { seq: 0, active: {}, history: [], promoted: {} };

/** A new deployment's record, in STAGING at step 0: strategy and steps from the request, else the kind's config, else the defaults. */
export function newRecord(
  request: StartRequest,
  context: {
    config: DeployConfig;
    doc: DeployDoc;
    blueInstances: number;
    actor: string;
    now: number;
  },
): DeployRecord {
  const { config, doc, actor, now } = context;
  const own = config.kinds[request.kind];
  const strategy = request.strategy ?? own?.strategy ?? config.strategy;
  const steps =
    strategy === 'bluegreen'
      ? [config.bluegreenShare, 100]
      : (request.steps ?? own?.steps ?? config.steps);
  doc.seq += 1;
  return {
    id: `${request.kind}-${doc.seq}`,
    kind: request.kind,
    strategy,
    state: 'staging',
    step: 0,
    steps: [...steps],
    launch: request.launch,
    instances: request.instances ?? Math.max(1, context.blueInstances),
    version: request.version ?? versionOf(request.launch),
    blueVersion: doc.promoted[request.kind]?.version ?? 'config',
    actor,
    reason: `started by ${actor}`,
    startedAt: now,
    updatedAt: now,
    stepStartedAt: now,
    verdict: null,
    analysisErrors: 0,
  };
}

/** A version label for a launch: the script's name and a short hash of the whole launch. */
export function versionOf(launch: Launch): string {
  const hash = createHash('sha256').update(JSON.stringify(launch)).digest('hex').slice(0, 8);
  return `${basename(launch.command)}@${hash}`;
}

/** What lives only in memory beside a record: the step's windows and the gates' clocks. */
export interface LiveDeployment {
  rec: DeployRecord;
  types: ReadonlySet<string>;
  windows: Windows;
  /** Blue over the whole deployment: the baseline of a step where blue ran too little. */
  blueTotal: PoolWindow;
  greenStartedAt: number;
  greenReadyAt: number | null;
  /** Since when every green bot is ready (STAGING's minHealthyTime). */
  healthySince: number | null;
  holdSince: number | null;
  crashTimes: number[];
  waiting: string | undefined;
  /** Blue's numbers the last step was judged on, kept at the promotion for the bake's gates. */
  bakeBaseline?: PoolWindow;
}

export function freshWindows(): Windows {
  return { blue: new PoolWindow(), green: new PoolWindow() };
}

function poolView(
  pool: DeployPool,
  version: string,
  bots: readonly Bot[],
  window: PoolWindow,
  dispatched: number | undefined,
): DeployPoolView {
  const round = (n: number) => Math.round(n * 10_000) / 10_000;
  return {
    pool,
    version,
    bots: bots.map((b) => b.name),
    done: window.done,
    failed: window.failed,
    timeouts: window.timeouts,
    crashes: window.crashes,
    errorRate: round(window.errorRate),
    timeoutRate: round(window.timeoutRate),
    p95Ms: window.p95Ms,
    ...(dispatched === undefined ? {} : { dispatched }),
  };
}

function recorded(rec: DeployRecord): Pick<DeploymentView, RecordedField> {
  const { id, kind, strategy, state, step, steps, verdict, reason, startedAt, updatedAt } = rec;
  return { id, kind, strategy, state, step, steps, verdict, reason, startedAt, updatedAt };
}

/** The current target weight (percent) of a record. */
export function targetWeight(rec: DeployRecord): number {
  const staging =
    rec.state === 'staging' || (rec.state === 'paused' && rec.pausedFrom === 'staging');
  if (staging || rec.state === 'rolled_back') return 0;
  if (rec.state === 'promoted') return 100;
  return rec.steps[rec.step] ?? 0;
}

export function viewOf(
  live: LiveDeployment,
  pools: { blue: readonly Bot[]; green: readonly Bot[] },
  counts: Record<DeployPool, number> | undefined,
): DeploymentView {
  const { rec } = live;
  const total = counts ? counts.green + counts.blue : 0;
  const view: DeploymentView = {
    ...recorded(rec),
    weight: {
      target: targetWeight(rec),
      achieved: counts && total > 0 ? Math.round((counts.green / total) * 1000) / 10 : null,
    },
    blue: poolView('blue', rec.blueVersion, pools.blue, live.windows.blue, counts?.blue),
    green: poolView('green', rec.version, pools.green, live.windows.green, counts?.green),
    ...(rec.finishing === 'drain' && rec.final
      ? { blue: rec.final.blue, green: rec.final.green }
      : {}),
  };
  if (live.waiting) view.waiting = live.waiting;
  return view;
}

/** A finished record's view (history): the numbers it ended with. */
export function finishedView(rec: DeployRecord): DeploymentView {
  const empty = (pool: DeployPool, version: string) =>
    poolView(pool, version, [], new PoolWindow(), undefined);
  return {
    ...recorded(rec),
    weight: { target: targetWeight(rec), achieved: null },
    blue: rec.final?.blue ?? empty('blue', rec.blueVersion),
    green: rec.final?.green ?? empty('green', rec.version),
    ...(rec.finishedAt === undefined ? {} : { finishedAt: rec.finishedAt }),
  };
}
