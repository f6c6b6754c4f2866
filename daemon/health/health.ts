import { hostname } from 'node:os';
import type { AlertView, ComponentHealth, HealthState, HealthView } from '../../protocol/health.ts';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { Readings } from '../metrics/telemetry.ts';
import { AlertEngine, type AlertEvent } from './alerts.ts';
import { resolveRules } from './rules.ts';
import { Webhooks } from './webhook.ts';

type HealthConfig = Config['health'];

export interface HealthEvents {
  /** An alert fired or resolved. */
  alert: AlertEvent;
}

/** Components every daemon has; each bot kind adds `bots:<kind>`. */
const BASE_COMPONENTS = ['queue', 'store', 'audit', 'config', 'disk', 'daemon'];

const RANK: Record<HealthState, number> = { healthy: 0, degraded: 1, critical: 2 };

/**
 * The health part: evaluates the alert rules on every monitor sample,
 * writes each firing and resolved event to health-alerts.jsonl (and, per
 * rule group, to a webhook), and rolls the firing alerts up into component
 * health and one overall state: HEALTHY, DEGRADED (a warning fires) or
 * CRITICAL (a critical one does).
 */
export class Health extends TypedEmitter<HealthEvents> implements ConfigApplier {
  readonly configPart = 'health';
  readonly configKeys = ['health'];
  readonly #engine: AlertEngine;
  readonly #webhooks: Webhooks;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #read: () => Readings;
  readonly #components: () => string[];
  /** Rule name → its group (the webhook its events go to). */
  #groups = new Map<string, string>();

  constructor(
    options: { config: HealthConfig },
    deps: {
      clock: Clock;
      /** The `health` part's logger: its lines go to health-alerts.jsonl. */
      log: Logger;
      /** The metrics the rules compare, as of now. */
      read: () => Readings;
      /** Components beyond the base ones (`bots:<kind>`). */
      components: () => string[];
    },
  ) {
    super();
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#read = deps.read;
    this.#components = deps.components;
    const { config } = options;
    const rules = resolveRules(config);
    this.#groups = new Map(rules.map((r) => [r.name, r.group]));
    this.#engine = new AlertEngine(rules, { resolvedKept: config.resolvedKept });
    this.#webhooks = new Webhooks(config.webhooks, { log: deps.log });
  }

  /** One evaluation of every rule (the monitor's sample drives it). */
  evaluate(): AlertEvent[] {
    const now = this.#clock.now();
    const events = this.#engine.evaluate(this.#read(), now);
    for (const event of events) this.#announce(event, now);
    return events;
  }

  #announce(event: AlertEvent, now: number): void {
    const { alert } = event;
    const firing = event.type === 'firing';
    const level = !firing ? 'info' : alert.severity === 'critical' ? 'error' : 'warn';
    this.#log[level](`alert ${alert.name} ${event.type}: ${alert.summary}`, {
      event: event.type,
      ...alert,
    });
    this.#webhooks.send(this.#groups.get(alert.name) ?? 'default', {
      status: event.type,
      alert,
      daemon: { host: hostname(), pid: process.pid },
      at: new Date(now).toISOString(),
    });
    this.emit('alert', event);
  }

  /** Pending and firing alerts; with `all`, the resolved ones kept too. */
  alerts(all = false): AlertView[] {
    const active = this.#engine.active();
    return all ? [...active, ...this.#engine.resolved()] : active;
  }

  get state(): HealthState {
    return this.view().state;
  }

  view(): HealthView {
    const active = this.#engine.active();
    const firing = active.filter((a) => a.state === 'firing');
    const names = new Set([...BASE_COMPONENTS, ...this.#components()]);
    for (const alert of firing) names.add(alert.component);
    const components: ComponentHealth[] = [...names].map((name) => {
      const own = firing.filter((a) => a.component === name);
      const state: HealthState = own.some((a) => a.severity === 'critical')
        ? 'critical'
        : own.length > 0
          ? 'degraded'
          : 'healthy';
      return { name, state, alerts: own.map((a) => a.name) };
    });
    const state = components.reduce<HealthState>(
      (worst, c) => (RANK[c.state] > RANK[worst] ? c.state : worst),
      'healthy',
    );
    return {
      state,
      components,
      firing,
      pending: active.length - firing.length,
      at: this.#clock.now(),
    };
  }

  prepareConfig(next: { config: Config }) {
    const config = next.config.health;
    const rules = resolveRules(config);
    return () => {
      this.#groups = new Map(rules.map((r) => [r.name, r.group]));
      this.#engine.setRules(rules, { resolvedKept: config.resolvedKept });
      this.#webhooks.setConfig(config.webhooks);
      return undefined;
    };
  }

  close(): void {
    this.#webhooks.close();
  }
}
