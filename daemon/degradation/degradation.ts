import { HiveError } from '../../protocol/errors.ts';
import type { Mode, ModeHolder, ModeTransition, ModeView } from '../../protocol/health.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { OPTIONAL_WORK } from '../config/schema-health.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import type { Interceptor } from '../ipc/router.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { JsonDocument } from '../store/json-document.ts';
import type { DispatchRouting } from '../tasks/route.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import { type AutoChange, ModeMachine } from './modes.ts';
import { ResourceMonitor, type Sample } from './monitor.ts';
import { Shedder, shedShares } from './pressure.ts';
import { QueueWatch } from './queue-watch.ts';
import { FallbackRouter, kindOfType } from './routing.ts';
import type { Sampler } from './sampler.ts';
import { StuckWatch } from './stuck.ts';
import { buildModeView } from './view.ts';

type DegradationConfig = Config['degradation'];
export type OptionalWork = (typeof OPTIONAL_WORK)[number];

/** `state/db/mode.json`: a mode set by hand survives a restart (it holds until `hive mode auto`). */
export interface ModeDoc {
  manual: (ModeHolder & { mode: Mode }) | null;
}
export const EMPTY_MODE_DOC: ModeDoc = { manual: null };

export interface DegradationEvents {
  /** The effective mode changed (one per transition). */
  changed: ModeTransition;
  /** A sample was taken and judged (health and `hive top` listen). */
  sample: Sample;
  /** A submission was refused to shed load. */
  shed: { type: string; kind: string; priority: number };
}

export interface DegradationDeps {
  clock: Clock;
  /** The `degradation` part's logger: its lines go to degradation-events.jsonl. */
  log: Logger;
  bots: BotSupervisor;
  queue: TaskQueue;
  sampler: Sampler;
  doc: JsonDocument<ModeDoc>;
  /** queue.defaultPriority, read at each submission. */
  defaultPriority: () => number;
}

const DAEMON = 'daemon';

/**
 * The degradation part: samples resources (ResourceMonitor), keeps the
 * automatic mode with hysteresis (ModeMachine) under an optional manual
 * hold, and applies what each mode means: lower concurrency and shedding in
 * DEGRADED, no dispatch in MAINTENANCE, fallback kinds, paused optional work
 * (`allows()`, the `changed` event: what deployments and backups consult).
 */
export class Degradation extends TypedEmitter<DegradationEvents> implements ConfigApplier {
  readonly configPart = 'degradation';
  readonly configKeys = ['degradation'];
  readonly monitor: ResourceMonitor;
  readonly #deps: DegradationDeps;
  readonly #watch: QueueWatch;
  readonly #machine: ModeMachine;
  readonly #router: FallbackRouter;
  readonly #shedder = new Shedder();
  readonly #stuck: StuckWatch;
  #config: DegradationConfig;
  #mode: Mode = 'full';
  #since: number;
  #setBy: ModeHolder;
  #shares = new Map<string, number>();

  constructor(options: { config: DegradationConfig; stateDir: string }, deps: DegradationDeps) {
    super();
    this.#deps = deps;
    this.#config = options.config;
    const now = deps.clock.now();
    this.#since = now;
    this.#setBy = { actor: DAEMON, reason: 'started', at: now };
    this.#watch = new QueueWatch(deps.queue, deps.clock);
    this.monitor = new ResourceMonitor(
      { intervalMs: options.config.intervalMs, stateDir: options.stateDir },
      {
        sampler: deps.sampler,
        clock: deps.clock,
        queue: this.#watch,
        fleet: { bots: () => deps.bots.bots(), kindOfType: (t) => kindOfType(deps.bots, t) },
      },
    );
    this.#machine = new ModeMachine(options.config, now);
    this.#stuck = new StuckWatch(options.config.stuck);
    this.#router = new FallbackRouter(deps.bots, {
      mode: () => this.#mode,
      dispatchUrgent: () => this.#config.maintenance.dispatchUrgent,
      shedReason: (kind) => this.#shedReason(kind),
    });
    this.monitor.on('sample', (sample) => this.#onSample(sample));
  }

  /** Takes up a mode held by hand before the restart, and starts sampling. */
  start(): void {
    const manual = this.#deps.doc.data.manual;
    if (manual) {
      this.#deps.log.warn(
        `mode ${manual.mode.toUpperCase()} set by ${manual.actor} (${manual.reason}) still holds; hive mode auto ends it`,
      );
      this.#settle({ actor: manual.actor, reason: manual.reason, at: manual.at }, true);
    }
    this.#router.refresh();
    this.monitor.start();
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** True while the mode is held by hand. */
  get manual(): boolean {
    return this.#deps.doc.data.manual !== null;
  }

  /** The dispatcher's routing hook: MAINTENANCE holds tasks back, fallback kinds take over. */
  readonly routing: DispatchRouting = (type) => this.#router.route(type);

  /** Why optional work is paused now (undefined: it may run). Deployments ask before each shift. */
  pausedReason(work: OptionalWork): string | undefined {
    if (this.#mode === 'full' || !this.#config.degraded.pause.includes(work)) return undefined;
    return `hived is ${this.#mode.toUpperCase()} (${this.#setBy.reason})`;
  }

  allows(work: OptionalWork): boolean {
    return this.pausedReason(work) === undefined;
  }

  /** `hive mode set`: holds until `clearManual` (persisted first, so a restart keeps it). */
  async setManual(mode: Mode, reason: string, actor: string): Promise<ModeView> {
    const at = this.#deps.clock.now();
    this.#deps.doc.data.manual = { mode, reason, actor, at };
    await this.#deps.doc.save();
    this.#settle({ actor, reason, at }, true);
    return this.view();
  }

  /** `hive mode auto`: back to what the signals say. */
  async clearManual(reason: string, actor: string): Promise<ModeView> {
    this.#deps.doc.data.manual = null;
    await this.#deps.doc.save();
    this.#settle(
      { actor, reason: `back to automatic (${reason})`, at: this.#deps.clock.now() },
      true,
    );
    return this.view();
  }

  #onSample(sample: Sample): void {
    if (this.#config.enabled) {
      const change = this.#machine.evaluate(sample.readings, sample.at);
      if (change) this.#autoChanged(change);
    }
    this.#refreshShares();
    this.#applyConcurrency();
    this.#checkStuck(sample, this.manual);
    this.emit('sample', sample);
  }

  #autoChanged(change: AutoChange): void {
    const manual = this.#deps.doc.data.manual;
    if (manual) {
      this.#deps.log.info(
        `automatic mode now ${change.to.toUpperCase()} (${change.reason}); ${manual.mode.toUpperCase()} set by ${manual.actor} holds`,
      );
      return;
    }
    const holder: ModeHolder = { actor: DAEMON, reason: change.reason, at: change.at };
    if (change.signal !== null) holder.signal = change.signal;
    if (change.value !== null) holder.value = change.value;
    if (change.threshold !== null) holder.threshold = change.threshold;
    this.#settle(holder, false);
  }

  /** Makes the effective mode what the hold or the machine says; one transition if it moved. */
  #settle(holder: ModeHolder, manual: boolean): void {
    const to = this.#deps.doc.data.manual?.mode ?? this.#machine.mode;
    if (to === this.#mode) {
      // Held by hand in the mode it was already in: no transition, but it is the user's now.
      if (manual) this.#setBy = holder;
      return;
    }
    const transition: ModeTransition = {
      from: this.#mode,
      to,
      signal: holder.signal ?? null,
      value: holder.value ?? null,
      threshold: holder.threshold ?? null,
      actor: holder.actor,
      reason: holder.reason,
      manual,
      at: holder.at,
    };
    this.#mode = to;
    this.#since = holder.at;
    this.#setBy = holder;
    this.#shedder.reset();
    this.#refreshShares();
    const level = to === 'full' ? 'info' : 'warn';
    this.#deps.log[level](
      `mode ${transition.from.toUpperCase()} -> ${to.toUpperCase()}: ${holder.reason}`,
      { ...transition, time: new Date(transition.at).toISOString() },
    );
    this.#applyConcurrency();
    this.emit('changed', transition);
  }

  #refreshShares(): void {
    this.#shares = shedShares(
      this.monitor.last?.readings ?? [],
      this.#deps.bots.kinds(),
      this.#mode,
      this.manual,
      this.#config,
    );
  }

  #applyConcurrency(): void {
    const factor = this.#mode === 'degraded' ? this.#config.degraded.concurrencyFactor : 1;
    for (const bot of this.#deps.bots.bots()) bot.pressureFactor = factor;
  }

  #checkStuck(sample: Sample, manual: boolean): void {
    const pressured = !manual && this.#machine.mode !== 'full';
    const decision = this.#stuck.check(pressured, sample.bots.values(), sample.at);
    if (!decision) return;
    const minutes = Math.round(decision.degradedForMs / 60_000);
    const top = decision.candidates.map((b) => ({ bot: b.name, rssBytes: b.rssBytes }));
    if ('capped' in decision) {
      this.#deps.log.warn(
        `${this.#mode.toUpperCase()} for ${minutes} min, but ${this.#config.stuck.maxRestartsPerHour} bots were restarted for it in the last hour; no more this hour`,
        { event: 'stuck', candidates: top },
      );
      return;
    }
    const victim = decision.restart;
    const reason = `${this.#machine.mode.toUpperCase()} for ${minutes} min without a break: restarting the largest bot (RSS ${Math.round(victim.rssBytes / 1048576)} MB)`;
    this.#deps.log.warn(`${victim.name}: ${reason}`, { event: 'stuck', candidates: top });
    this.#deps.bots.restart(victim.name, reason).catch((error: unknown) => {
      this.#deps.log.error(`stuck restart of ${victim.name} failed: ${String(error)}`);
    });
  }

  #shedReason(kind: string): string | undefined {
    if (this.#mode !== 'degraded' || !this.#config.degraded.fallback) return undefined;
    const share = this.#shares.get(kind) ?? 0;
    return share > 0
      ? `${Math.round(share * 100)}% in DEGRADED (${this.#setBy.reason})`
      : undefined;
  }

  /**
   * Refuses in DEGRADED a share of low-priority submissions (a kind whose
   * fallback can take them instead keeps them), and scale-ups while they
   * are paused unless forced. Registered as a router interceptor.
   */
  readonly interceptor: Interceptor = async (command, args, _ctx, next) => {
    if (command.name === 'task.submit')
      this.#checkShed(args as { type: string; priority?: number });
    else if (command.name === 'bots.scale')
      this.#checkScale(args as { kind: string; instances: number; force?: boolean });
    return next();
  };

  #checkShed(a: { type: string; priority?: number }): void {
    if (this.#mode !== 'degraded') return;
    const priority = a.priority ?? this.#deps.defaultPriority();
    const { degraded } = this.#config;
    if (priority < degraded.shedFromPriority) return;
    const kind = kindOfType(this.#deps.bots, a.type);
    const share = kind === undefined ? 0 : (this.#shares.get(kind) ?? 0);
    if (!kind || share <= 0 || this.#fallbackTakes(kind)) return;
    if (!this.#shedder.shed(kind, share)) return;
    this.emit('shed', { type: a.type, kind, priority });
    throw new HiveError(
      'HIVE_MODE_SHED',
      `hived is DEGRADED (${this.#setBy.reason}): ${Math.round(share * 100)}% of ${kind} submissions of priority ${degraded.shedFromPriority}-9 are refused; retry after ${degraded.retryAfterMs / 1000} s, or submit with a more urgent priority`,
      { retryAfterMs: degraded.retryAfterMs, mode: this.#mode, kind, share, priority },
    );
  }

  /** A shed kind's fallback takes its work when it is not shed itself and has a ready bot. */
  #fallbackTakes(kind: string): boolean {
    const fallback = this.#deps.bots.pool(kind)?.spec.fallback;
    if (!fallback || !this.#config.degraded.fallback || (this.#shares.get(fallback) ?? 0) > 0)
      return false;
    return this.#deps.bots.bots().some((b) => b.kind === fallback && b.state === 'ready');
  }

  #checkScale(a: { kind: string; instances: number; force?: boolean }): void {
    const paused = this.pausedReason('scaleUp');
    const current = this.#deps.bots.pool(a.kind)?.instances;
    if (!paused || a.force || current === undefined || a.instances <= current) return;
    throw new HiveError(
      'HIVE_MODE_PAUSED',
      `${paused}: scale-ups are paused (degradation.degraded.pause); hive bots scale ${a.kind} ${a.instances} --force scales anyway`,
      { mode: this.#mode, work: 'scaleUp' },
    );
  }

  /** The STATUS= text for systemd (the supervision loop prefixes its line with it). */
  statusText(): string {
    const mode = this.#mode.toUpperCase();
    return this.#mode === 'full' ? mode : `${mode} (${this.#setBy.reason})`;
  }

  view(): ModeView {
    return buildModeView({
      mode: this.#mode,
      auto: this.#machine.mode,
      manual: this.#deps.doc.data.manual,
      since: this.#since,
      setBy: this.#setBy,
      sample: this.monitor.last,
      machine: this.#machine,
      shares: this.#shares,
      unhealthy: this.#router.unhealthy,
      bots: this.#deps.bots,
      config: this.#config,
      paused: (work) => this.pausedReason(work) !== undefined,
      shedReason: (kind) => this.#shedReason(kind),
    });
  }

  prepareConfig(next: { config: Config }) {
    const config = next.config.degradation;
    return () => {
      this.#config = config;
      this.#machine.setSettings(config);
      this.#stuck.setSettings(config.stuck);
      this.monitor.setInterval(config.intervalMs);
      this.#router.refresh();
      const now = this.#deps.clock.now();
      const reset = config.enabled ? undefined : this.#machine.reset(now, 'automatic modes off');
      if (reset) this.#autoChanged(reset);
      this.#applyConcurrency();
      return undefined;
    };
  }

  close(): void {
    this.monitor.close();
    this.#watch.close();
    this.#router.close();
  }
}
