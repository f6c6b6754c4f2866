import type { DeploymentView } from '../../protocol/deploy.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Bot, BotExit } from '../bots/bot.ts';
import { type BotSpec, launchIs, launchOf, relaunch } from '../bots/spec.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { DeployConfig } from '../config/schema-deploy.ts';
import { TypedEmitter } from '../core/events.ts';
import type { AttemptEnd, DispatchObserver } from '../tasks/dispatcher.ts';
import { type AnalysisResult, PoolWindow } from './analysis.ts';
import type { DeployAuditAction, DeployDeps, DeployEvents, StartRequest } from './contract.ts';
import { drainGreen, startGreen } from './green.ts';
import { baselineOf, decide, gateReason, judgeBake, stagingDone } from './judge.ts';
import {
  type DeployRecord,
  finishedView,
  freshWindows,
  type LiveDeployment,
  newRecord,
  targetWeight,
  viewOf,
} from './record.ts';
import { WeightedPools } from './weights.ts';

const DAEMON = 'daemon';

/**
 * Zero-downtime deployments of a bot kind (issue 8): a green pool beside
 * the kind's blue one, traffic moved to it by weight step by step, green
 * judged against blue on the same window at every step, promoted at the end
 * or rolled back on its own. Every transition is persisted before its side
 * effect, so a daemon killed at any point resumes (or reverts) from the
 * document.
 */
export class Deployments
  extends TypedEmitter<DeployEvents>
  implements DispatchObserver, ConfigApplier
{
  readonly configPart = 'deploy';
  /** Read at each tick and transition: a change applies from the next one. */
  readonly configKeys = ['deploy'];
  readonly #deps: DeployDeps;
  readonly #pools = new WeightedPools();
  readonly #live = new Map<string, LiveDeployment>();
  #config: DeployConfig;
  #timer: NodeJS.Timeout | undefined;
  /** Transitions one at a time: a command and a tick never interleave their writes. */
  #serial: Promise<unknown> = Promise.resolve();
  #busy = 0;
  readonly #offs: (() => void)[] = [];

  constructor(config: DeployConfig, deps: DeployDeps) {
    super();
    this.#config = config;
    this.#deps = deps;
    deps.setPoolSelector(this.#pools);
    deps.bots.setSpecOverride((kind, spec) => this.#promotedSpec(kind, spec));
    this.#offs.push(
      deps.bots.on('ready', (bot) => this.#onReady(bot)),
      deps.bots.on('exit', (exit) => this.#onExit(exit)),
    );
  }

  prepareConfig(next: { config: Config }) {
    return () => {
      this.#config = next.config.deploy;
      return undefined;
    };
  }

  /** A promoted kind keeps its deployed launch while the config says what it replaced. */
  #promotedSpec(kind: string, spec: BotSpec): BotSpec {
    const promoted = this.#deps.doc.data.promoted[kind];
    if (!promoted) return spec;
    if (!launchIs(spec, promoted.configLaunch)) {
      this.#deps.log.warn(
        `${kind}: the config's launch changed since ${promoted.version} was promoted; the config's wins`,
      );
      delete this.#deps.doc.data.promoted[kind];
      void this.#save();
      return spec;
    }
    try {
      return relaunch(spec, promoted.launch);
    } catch (error) {
      this.#deps.log.error(
        `${kind}: promoted ${promoted.version} cannot launch (${(error as Error).message}); running the config's`,
      );
      return spec;
    }
  }

  /** Takes up deployments found in the document (after a restart) and starts the gates' clock. */
  async start(): Promise<void> {
    for (const rec of Object.values(this.#deps.doc.data.active)) await this.#adopt(rec);
    this.#timer = setInterval(() => this.#tick(), this.#config.intervalMs);
    this.#timer.unref();
  }

  async #adopt(rec: DeployRecord): Promise<void> {
    const now = this.#deps.clock.now();
    if (rec.state === 'rolled_back' || rec.finishing === 'drain') {
      // Green died with the daemon; its tasks were requeued at start.
      await this.#finish(rec, 'rolled_back', `${rec.reason}; finished after a daemon restart`);
      return;
    }
    if (rec.state === 'promoted') {
      // The promoted launch already runs as the kind's pool (the override applied at start).
      await this.#finish(rec, 'promoted', `${rec.reason}; bake cut short by a daemon restart`);
      return;
    }
    if (this.#config.onRestart === 'revert') {
      await this.#finish(rec, 'rolled_back', 'reverted: the daemon restarted (deploy.onRestart)');
      this.#action(rec, 'deploy.rolled_back', DAEMON, rec.reason, {});
      return;
    }
    const live = this.#track(rec);
    rec.reason = `resumed at step ${rec.step} after a daemon restart`;
    rec.stepStartedAt = now;
    await this.#save();
    await this.#startGreen(live);
    this.#action(rec, 'deploy.resumed', DAEMON, rec.reason, { state: rec.state, step: rec.step });
    this.#changed(live);
  }

  // --- commands -------------------------------------------------------------------------------

  /** `deploy start`: a mid-deployment kind is aborted (drained) first, then it starts over. */
  async begin(request: StartRequest, actor: string): Promise<DeploymentView> {
    const spec = this.#deps.configSpec(request.kind);
    const pool = this.#deps.bots.pool(request.kind);
    if (!spec || !pool)
      throw new HiveError(
        'HIVE_BOT_KIND_NOT_FOUND',
        `no bot kind named ${request.kind}; known: ${this.#deps.bots.kinds().join(', ')}`,
      );
    let green: BotSpec;
    try {
      green = relaunch(spec, request.launch);
    } catch (error) {
      throw new HiveError('HIVE_DEPLOY_INVALID', (error as Error).message);
    }
    return this.#run(async () => {
      // Behind any transition under way: a rollback already draining has ended by now.
      const current = this.#live.get(request.kind);
      if (current) await this.#rollBack(current, 'superseded by a new deploy start', actor);
      const rec = newRecord(request, {
        config: this.#config,
        doc: this.#deps.doc.data,
        blueInstances: pool.instances,
        actor,
        now: this.#deps.clock.now(),
      });
      this.#deps.doc.data.active[rec.kind] = rec;
      const live = this.#track(rec);
      await this.#save();
      this.#action(rec, 'deploy.started', actor, rec.reason, {
        version: rec.version,
        blueVersion: rec.blueVersion,
        strategy: rec.strategy,
        steps: rec.steps,
        command: green.file === process.execPath ? green.argv[0] : green.file,
      });
      await this.#startGreen(live);
      this.#changed(live);
      return this.#view(live);
    });
  }

  pause(kind: string, reason: string, actor: string): Promise<DeploymentView> {
    return this.#run(async () => {
      const live = this.#require(kind);
      const { rec } = live;
      if (rec.state !== 'staging' && rec.state !== 'canary' && rec.state !== 'shifting')
        throw badState(rec, 'pause');
      rec.pausedFrom = rec.state;
      await this.#transition(live, 'paused', reason, 'deploy.paused', actor);
      return this.#view(live);
    });
  }

  resume(kind: string, actor: string): Promise<DeploymentView> {
    return this.#run(async () => {
      const live = this.#require(kind);
      const { rec } = live;
      if (rec.state !== 'paused') throw badState(rec, 'resume');
      live.holdSince = null;
      const back = rec.pausedFrom ?? 'canary';
      delete rec.pausedFrom;
      await this.#transition(live, back, `resumed by ${actor}`, 'deploy.resumed', actor);
      return this.#view(live);
    });
  }

  /** Skips the current step's analysis (next step), or with `full` goes straight to PROMOTED. */
  promote(kind: string, full: boolean, actor: string): Promise<DeploymentView> {
    return this.#run(async () => {
      const live = this.#require(kind);
      const { rec } = live;
      if (rec.state === 'promoted' || rec.finishing) throw badState(rec, 'promote');
      const why = `promoted by hand by ${actor}`;
      rec.verdict = { result: 'PASS', reason: why, at: this.#deps.clock.now() };
      delete rec.pausedFrom;
      const lastStep = rec.step >= rec.steps.length - 1;
      if (full || (rec.state !== 'staging' && lastStep)) await this.#promote(live, why, actor);
      else if (rec.state === 'staging') await this.#enterStep(live, 'canary', why, actor);
      else await this.#nextStep(live, why, actor);
      return this.#view(live);
    });
  }

  /**
   * Weight 0 first, green's running tasks get `drainTimeoutMs`, what is
   * left goes back to the queue (to blue), and green stops only then. In the
   * bake after a promotion it is a routing change back to the warm blue.
   */
  abort(kind: string, reason: string, actor: string): Promise<DeploymentView> {
    return this.#run(async () => {
      const live = this.#require(kind);
      if (live.rec.finishing === 'drain') throw badState(live.rec, 'abort');
      await this.#rollBack(live, reason, actor);
      return finishedView(live.rec);
    });
  }

  /** Starts the kind's last rolled-back deployment again, from step 0. */
  async retry(kind: string, actor: string): Promise<DeploymentView> {
    if (this.#live.has(kind))
      throw new HiveError('HIVE_DEPLOY_BAD_STATE', `${kind} has a deployment under way`);
    const last = this.#deps.doc.data.history.findLast((r) => r.kind === kind);
    if (last?.state !== 'rolled_back')
      throw new HiveError(
        'HIVE_DEPLOY_NOT_FOUND',
        `${kind} has no rolled-back deployment to retry${last ? ` (the last one was ${last.state})` : ''}`,
      );
    return this.begin(
      {
        kind,
        launch: last.launch,
        instances: last.instances,
        strategy: last.strategy,
        steps: last.steps,
        version: last.version,
      },
      actor,
    );
  }

  /**
   * One deployment per kind: the one under way, else the kind's last
   * finished one (how it ended stays visible); only `kind`'s when given.
   */
  status(kind?: string): DeploymentView[] {
    const lastFinished = new Map<string, DeployRecord>();
    for (const rec of this.#deps.doc.data.history) lastFinished.set(rec.kind, rec);
    const kinds = new Set([...this.#live.keys(), ...lastFinished.keys()]);
    const views: DeploymentView[] = [];
    for (const k of [...kinds].sort()) {
      if (kind !== undefined && k !== kind) continue;
      const live = this.#live.get(k);
      const last = lastFinished.get(k);
      if (live) views.push(this.#view(live));
      else if (last) views.push(finishedView(last));
    }
    return views;
  }

  history(kind?: string): DeploymentView[] {
    return this.#deps.doc.data.history
      .filter((r) => kind === undefined || r.kind === kind)
      .map(finishedView)
      .reverse();
  }

  // --- statistics (dispatcher and supervisor events) -------------------------------------------

  attemptEnded(end: AttemptEnd): void {
    if (!end.release) return;
    const live = this.#live.get(end.botRef?.kind ?? '') ?? this.#byType(end.task.type);
    if (!live) return;
    const latency = Math.max(0, end.at - end.startedAt);
    live.windows[end.release.pool].record(end.outcome, latency);
    if (end.release.pool === 'blue') live.blueTotal.record(end.outcome, latency);
  }

  #byType(type: string): LiveDeployment | undefined {
    for (const live of this.#live.values()) if (live.types.has(type)) return live;
    return undefined;
  }

  #onReady(bot: Bot): void {
    const live = this.#live.get(bot.kind);
    if (live && bot.release?.pool === 'green') live.greenReadyAt ??= this.#deps.clock.now();
  }

  #onExit(exit: BotExit): void {
    const pool = exit.bot.release?.pool;
    const live = this.#live.get(exit.bot.kind);
    if (!live || !pool || exit.requested) return;
    live.windows[pool].crashed();
    if (pool === 'green') {
      live.crashTimes.push(this.#deps.clock.now());
      live.healthySince = null;
    }
  }

  // --- the clock: gates and analyses ----------------------------------------------------------

  #tick(): void {
    if (this.#busy > 0) return;
    for (const live of this.#live.values()) {
      if (live.rec.finishing === 'drain') continue;
      void this.#run(() => this.#evaluate(live)).catch((error: unknown) =>
        this.#deps.log.error(`${live.rec.id}: ${String(error)}`),
      );
    }
  }

  async #evaluate(live: LiveDeployment): Promise<void> {
    if (this.#live.get(live.rec.kind) !== live || live.rec.finishing === 'drain') return;
    const now = this.#deps.clock.now();
    const { rec } = live;
    if (rec.state === 'promoted') {
      if (this.#config.bakeGates && (await this.#bakeFailed(live, now))) return;
      if (now >= (rec.bakeUntil ?? now)) await this.#completePromotion(live);
      return;
    }
    const gate = gateReason(live, this.#config, now);
    if (gate) {
      await this.#rollBack(live, gate, DAEMON);
      return;
    }
    if (rec.state === 'paused') return;
    if (rec.state === 'staging') {
      const green = this.#deps.bots.greenBots(rec.kind);
      if (!stagingDone(live, green, this.#config, now)) return;
      rec.step = 0;
      const why = `green healthy for ${this.#config.minHealthyTimeMs} ms`;
      await this.#enterStep(live, 'canary', why, DAEMON);
      return;
    }
    const paused = this.#deps.shiftPaused();
    const waiting = paused ? `shifting paused: ${paused}` : undefined;
    if (waiting !== live.waiting) {
      live.waiting = waiting;
      this.#changed(live);
    }
    if (paused) return;
    await this.#judge(live, now);
  }

  async #judge(live: LiveDeployment, now: number): Promise<void> {
    const { rec } = live;
    const decision = decide(live, this.#config, now);
    this.#noteVerdict(live, decision.outcome, now);
    switch (decision.next) {
      case 'step':
        return this.#nextStep(live, decision.outcome.reason, DAEMON);
      case 'promote':
        return this.#promote(live, decision.outcome.reason, DAEMON);
      case 'rollback':
        return this.#rollBack(live, decision.reason, DAEMON);
      case 'remeasure':
        rec.analysisErrors += 1;
        this.#resetWindows(live);
        return this.#save();
      case 'pause':
        rec.pausedFrom = rec.state;
        return this.#transition(live, 'paused', decision.reason, 'deploy.paused', DAEMON);
      case 'hold':
        return;
    }
  }

  /**
   * The bake's gates: on a failure the verdict (with the bake window's
   * numbers) is recorded and green is rolled back to the warm blue, as a
   * manual abort in the bake is. True when it rolled back.
   */
  async #bakeFailed(live: LiveDeployment, now: number): Promise<boolean> {
    const decision = judgeBake(live, this.#config, now);
    if (decision.next !== 'rollback') return false;
    this.#noteVerdict(live, decision.outcome, now);
    this.#keepNumbers(live);
    await this.#rollBack(live, decision.reason, DAEMON);
    return true;
  }

  /** Records a verdict; audited and logged when it says something new (not every held tick). */
  #noteVerdict(live: LiveDeployment, outcome: AnalysisResult, now: number): void {
    const { rec } = live;
    const previous = rec.verdict;
    rec.verdict = { result: outcome.result, reason: outcome.reason, at: now };
    if (previous?.result === 'INCONCLUSIVE' && outcome.result === 'INCONCLUSIVE') return;
    this.#action(rec, 'deploy.verdict', DAEMON, `${outcome.result}: ${outcome.reason}`, {
      result: outcome.result,
      step: rec.step,
      weight: targetWeight(rec),
      ...outcome.numbers,
    });
    this.#changed(live);
  }

  // --- transitions: persisted first, then acted on ---------------------------------------------

  async #nextStep(live: LiveDeployment, why: string, actor: string): Promise<void> {
    live.rec.step += 1;
    await this.#enterStep(live, 'shifting', why, actor);
  }

  async #enterStep(
    live: LiveDeployment,
    state: 'canary' | 'shifting',
    why: string,
    actor: string,
  ): Promise<void> {
    const { rec } = live;
    rec.analysisErrors = 0;
    live.holdSince = null;
    const weight = rec.steps[rec.step] ?? 100;
    await this.#transition(
      live,
      state,
      `step ${rec.step} (${weight}%): ${why}`,
      'deploy.step',
      actor,
    );
  }

  /** A state change: persisted, then the routing follows, then everyone is told. */
  async #transition(
    live: LiveDeployment,
    state: DeployRecord['state'],
    reason: string,
    action: DeployAuditAction,
    actor: string,
  ): Promise<void> {
    const { rec } = live;
    const stepChanged = rec.state !== state || action === 'deploy.step';
    rec.state = state;
    rec.reason = reason;
    rec.updatedAt = this.#deps.clock.now();
    if (action === 'deploy.step') rec.stepStartedAt = rec.updatedAt;
    await this.#save();
    if (stepChanged && state !== 'paused') this.#route(live);
    this.#action(rec, action, actor, reason, { state, step: rec.step, weight: targetWeight(rec) });
    this.#changed(live);
  }

  /** Points the routing at the record's weight and starts the step's windows afresh. */
  #route(live: LiveDeployment): void {
    this.#pools.set(live.rec.kind, live.types, targetWeight(live.rec));
    this.#resetWindows(live);
  }

  #resetWindows(live: LiveDeployment): void {
    live.windows = freshWindows();
    live.rec.stepStartedAt = this.#deps.clock.now();
  }

  async #promote(live: LiveDeployment, why: string, actor: string): Promise<void> {
    const { rec } = live;
    if (this.#config.backupBeforePromote) {
      try {
        await this.#deps.beforePromote(rec.id);
      } catch (error) {
        rec.analysisErrors += 1;
        rec.verdict = {
          result: 'ERROR',
          reason: `backup before promote failed: ${String(error)}`,
          at: this.#deps.clock.now(),
        };
        this.#changed(live);
        if (rec.analysisErrors >= this.#config.maxAnalysisErrors)
          await this.#rollBack(live, rec.verdict.reason, DAEMON);
        return;
      }
    }
    const configSpec = this.#deps.configSpec(rec.kind);
    this.#keepNumbers(live);
    live.bakeBaseline = baselineOf(live, this.#config);
    rec.step = rec.steps.length - 1;
    rec.finishing = 'bake';
    rec.bakeUntil = this.#deps.clock.now() + this.#config.bakeTimeMs;
    if (configSpec)
      this.#deps.doc.data.promoted[rec.kind] = {
        id: rec.id,
        version: rec.version,
        launch: rec.launch,
        configLaunch: launchOf(configSpec),
        at: this.#deps.clock.now(),
      };
    await this.#transition(
      live,
      'promoted',
      `promoted (${why}); blue stays warm for ${this.#config.bakeTimeMs} ms`,
      'deploy.promoted',
      actor,
    );
    if (this.#config.bakeTimeMs === 0) await this.#completePromotion(live);
  }

  /** The bake is over: green becomes the kind's pool, blue stops. */
  async #completePromotion(live: LiveDeployment): Promise<void> {
    const { rec } = live;
    const reason = `${rec.version} runs ${rec.kind}; blue stopped after the bake`;
    await this.#finish(rec, 'promoted', reason, live);
    await this.#deps.bots.promoteGreen(
      rec.kind,
      `replaced by ${rec.version} (deployment ${rec.id})`,
    );
    for (const bot of this.#deps.bots.kindBots(rec.kind)) bot.release = undefined;
    this.#action(rec, 'deploy.finished', DAEMON, reason, { state: 'promoted' });
  }

  async #rollBack(live: LiveDeployment, reason: string, actor: string): Promise<void> {
    const { rec } = live;
    const duringBake = rec.state === 'promoted';
    if (duringBake) delete this.#deps.doc.data.promoted[rec.kind];
    else this.#keepNumbers(live);
    rec.finishing = 'drain';
    delete rec.bakeUntil;
    await this.#transition(
      live,
      'rolled_back',
      duringBake ? `rolled back during the bake: ${reason}` : reason,
      'deploy.rolled_back',
      actor,
    );
    await drainGreen(this.#deps, rec, { timeoutMs: this.#config.drainTimeoutMs, reason });
    await this.#finish(rec, 'rolled_back', rec.reason, live);
    this.#action(rec, 'deploy.finished', actor, rec.reason, { state: 'rolled_back' });
  }

  /** Ends a deployment: out of `active` into the history (persisted), routing back to normal. */
  async #finish(
    rec: DeployRecord,
    state: 'promoted' | 'rolled_back',
    reason: string,
    live?: LiveDeployment,
  ): Promise<void> {
    const doc = this.#deps.doc.data;
    const now = this.#deps.clock.now();
    if (live && !rec.final) this.#keepNumbers(live);
    rec.state = state;
    rec.reason = reason;
    rec.updatedAt = rec.finishedAt = now;
    delete rec.finishing;
    delete doc.active[rec.kind];
    doc.history.push(rec);
    if (doc.history.length > this.#config.historyLimit)
      doc.history.splice(0, doc.history.length - this.#config.historyLimit);
    await this.#save();
    this.#pools.clear(rec.kind);
    if (this.#live.get(rec.kind)?.rec === rec) this.#live.delete(rec.kind);
    for (const bot of this.#deps.bots.kindBots(rec.kind)) bot.release = undefined;
    this.emit('changed', finishedView(rec));
  }

  // --- helpers --------------------------------------------------------------------------------

  /** The pools' numbers of the last judged step, kept for status and history once the routing moves on. */
  #keepNumbers(live: LiveDeployment): void {
    const view = this.#view(live);
    live.rec.final = { blue: view.blue, green: view.green };
  }

  #track(rec: DeployRecord): LiveDeployment {
    const now = this.#deps.clock.now();
    const types = this.#deps.bots.pool(rec.kind)?.spec.taskTypes ?? new Set([rec.kind]);
    const live: LiveDeployment = {
      rec,
      types,
      windows: freshWindows(),
      blueTotal: new PoolWindow(),
      greenStartedAt: now,
      greenReadyAt: null,
      healthySince: null,
      holdSince: null,
      crashTimes: [],
      waiting: undefined,
    };
    this.#live.set(rec.kind, live);
    for (const bot of this.#deps.bots.kindBots(rec.kind))
      bot.release = { pool: 'blue', version: rec.blueVersion };
    return live;
  }

  async #startGreen(live: LiveDeployment): Promise<void> {
    live.greenStartedAt = this.#deps.clock.now();
    live.greenReadyAt = null;
    await startGreen(this.#deps, live.rec);
    this.#route(live);
  }

  #require(kind: string): LiveDeployment {
    const live = this.#live.get(kind);
    if (!live) throw new HiveError('HIVE_DEPLOY_NOT_FOUND', `${kind} has no deployment under way`);
    return live;
  }

  #view(live: LiveDeployment): DeploymentView {
    const kind = live.rec.kind;
    const pools = {
      blue: this.#deps.bots.kindBots(kind),
      green: this.#deps.bots.greenBots(kind),
    };
    return viewOf(live, pools, this.#pools.counts(kind));
  }

  #changed(live: LiveDeployment): void {
    if (this.hasListeners('changed')) this.emit('changed', this.#view(live));
  }

  /** Audit trail (through the action event) and migration-log.jsonl. */
  #action(
    rec: DeployRecord,
    action: DeployAuditAction,
    actor: string,
    reason: string,
    details: Record<string, unknown>,
  ): void {
    this.#deps.log.info(`${rec.id} ${action.slice('deploy.'.length)}: ${reason}`, {
      deployment: rec.id,
      kind: rec.kind,
      action,
      actor,
      state: rec.state,
      step: rec.step,
      ...details,
    });
    this.emit('action', { action, actor, kind: rec.kind, id: rec.id, reason, details });
  }

  #run<T>(work: () => Promise<T>): Promise<T> {
    this.#busy += 1;
    const next = this.#serial.then(work).finally(() => {
      this.#busy -= 1;
    });
    this.#serial = next.catch(() => {});
    return next;
  }

  #save(): Promise<void> {
    return this.#deps.doc.save();
  }

  /** Stops the clock; deployments stay in the document and resume at the next start. */
  close(): void {
    clearInterval(this.#timer);
    for (const off of this.#offs) off();
  }
}

function badState(rec: DeployRecord, what: string): HiveError {
  return new HiveError(
    'HIVE_DEPLOY_BAD_STATE',
    `${rec.id} is ${rec.state}${rec.finishing ? ` (${rec.finishing === 'drain' ? 'draining' : 'baking'})` : ''}; it cannot ${what} now`,
  );
}
