import type { AlertState, AlertView } from '../../protocol/health.ts';
import { roundTo } from '../core/values.ts';
import { type Labels, labelKey, type Readings, type Series } from '../metrics/telemetry.ts';
import { compare, fill, type Rule } from './rules.ts';

export interface AlertEvent {
  type: 'firing' | 'resolved';
  alert: AlertView;
}

interface Instance {
  rule: Rule;
  labels: Labels;
  state: AlertState;
  value: number;
  activeSince: number | null;
  firedAt: number | null;
  resolvedAt: number | null;
  lastTrueAt: number;
  /** Samples in a row with the condition true (pending) or false (firing). */
  streak: number;
}

/**
 * Two samples in a row are the least that moves an alert either way: a
 * one-sample spike never fires (even with `for: 0`) and a one-sample dip
 * never resolves a firing alert (even with `keepFiringFor: 0`).
 */
const MIN_STREAK = 2;

/**
 * Alert rules over Telemetry readings, one instance per rule and label set,
 * the way Prometheus evaluates them: inactive → pending (the condition
 * holds) → firing (it held for `for`) → resolved (it stopped holding, and
 * `keepFiringFor` has passed since it last held). Counters compared by
 * their increase over a window keep a short history per series.
 */
export class AlertEngine {
  #rules: Rule[];
  readonly #instances = new Map<string, Instance>();
  /** Per rule and counter series: [time, value] points covering the rule's window. */
  readonly #history = new Map<string, [number, number][]>();
  #resolved: AlertView[] = [];
  #resolvedKept: number;

  constructor(rules: Rule[], options: { resolvedKept: number }) {
    this.#rules = rules;
    this.#resolvedKept = options.resolvedKept;
  }

  /** Replaces the rules; alerts of rules that are gone end without an event. */
  setRules(rules: Rule[], options: { resolvedKept: number }): void {
    this.#rules = rules;
    this.#resolvedKept = options.resolvedKept;
    const names = new Set(rules.map((r) => r.name));
    for (const [key, instance] of this.#instances) {
      const fresh = rules.find((r) => r.name === instance.rule.name);
      if (!names.has(instance.rule.name) || !fresh) this.#instances.delete(key);
      else instance.rule = fresh;
    }
  }

  /** One evaluation of every rule; returns the firing and resolved events it caused. */
  evaluate(readings: Readings, now: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    const seen = new Set<string>();
    for (const rule of this.#rules) {
      for (const series of matching(readings.get(rule.metric) ?? [], rule.labels)) {
        const key = `${rule.name}\u0001${labelKey(series.labels)}`;
        seen.add(key);
        const value = rule.windowMs
          ? this.#increase(key, series.value, rule.windowMs, now)
          : series.value;
        const event = this.#step(
          key,
          rule,
          series.labels,
          value,
          compare(value, rule.op, rule.threshold),
          now,
        );
        if (event) events.push(event);
      }
    }
    // A series that vanished (a kind removed, a bot gone) counts as a false condition.
    for (const [key, instance] of this.#instances) {
      if (seen.has(key)) continue;
      const event = this.#step(key, instance.rule, instance.labels, instance.value, false, now);
      if (event) events.push(event);
    }
    return events;
  }

  #step(
    key: string,
    rule: Rule,
    labels: Labels,
    value: number,
    holds: boolean,
    now: number,
  ): AlertEvent | undefined {
    let instance = this.#instances.get(key);
    if (!instance) {
      if (!holds) return undefined;
      instance = {
        rule,
        labels,
        state: 'inactive',
        value,
        activeSince: null,
        firedAt: null,
        resolvedAt: null,
        lastTrueAt: now,
        streak: 0,
      };
      this.#instances.set(key, instance);
    }
    instance.value = value;
    if (holds) {
      instance.lastTrueAt = now;
      if (instance.state === 'inactive') {
        instance.state = 'pending';
        instance.activeSince = now;
        instance.streak = 1;
        return undefined;
      }
      if (instance.state === 'firing') {
        instance.streak = 0;
        return undefined;
      }
      instance.streak += 1;
      const held = now - (instance.activeSince ?? now);
      if (instance.streak < MIN_STREAK || held < rule.forMs) return undefined;
      instance.state = 'firing';
      instance.firedAt = now;
      instance.streak = 0;
      return { type: 'firing', alert: this.#view(instance) };
    }
    if (instance.state === 'pending') {
      this.#instances.delete(key);
      return undefined;
    }
    instance.streak += 1;
    if (instance.streak < MIN_STREAK || now - instance.lastTrueAt < rule.keepFiringForMs)
      return undefined;
    instance.state = 'resolved';
    instance.resolvedAt = now;
    this.#instances.delete(key);
    const view = this.#view(instance);
    this.#resolved.push(view);
    if (this.#resolved.length > this.#resolvedKept)
      this.#resolved = this.#resolved.slice(-this.#resolvedKept);
    return { type: 'resolved', alert: view };
  }

  /**
   * The increase of a counter over the window: the sum of its rises between
   * points (a drop is a restart from 0, as Prometheus' increase() treats
   * it). A series seen for the first time started at 0: every counter of
   * hived starts at 0 with the daemon.
   */
  #increase(key: string, value: number, windowMs: number, now: number): number {
    let points = this.#history.get(key);
    if (!points) {
      points = [[now, 0]];
      this.#history.set(key, points);
    }
    points.push([now, value]);
    // Keep one point at or before the window's start as the baseline.
    while (points.length > 2 && (points[1] as [number, number])[0] <= now - windowMs)
      points.shift();
    let rise = 0;
    for (let i = 1; i < points.length; i++) {
      const before = (points[i - 1] as [number, number])[1];
      const after = (points[i] as [number, number])[1];
      rise += after >= before ? after - before : after;
    }
    return rise;
  }

  #view(instance: Instance): AlertView {
    const { rule, labels } = instance;
    return {
      name: rule.name,
      labels,
      component: fill(rule.component, rule, labels, instance.value),
      severity: rule.severity,
      state: instance.state,
      summary: fill(rule.summary, rule, labels, instance.value),
      metric: rule.metric,
      op: rule.windowMs ? `increase over ${rule.windowMs} ms ${rule.op}` : rule.op,
      threshold: rule.threshold,
      value: roundTo(instance.value),
      activeSince: instance.activeSince,
      firedAt: instance.firedAt,
      resolvedAt: instance.resolvedAt,
    };
  }

  /** Pending and firing alerts, most severe and oldest first. */
  active(): AlertView[] {
    return [...this.#instances.values()]
      .map((i) => this.#view(i))
      .sort(
        (a, b) =>
          Number(b.severity === 'critical') - Number(a.severity === 'critical') ||
          Number(b.state === 'firing') - Number(a.state === 'firing') ||
          (a.activeSince ?? 0) - (b.activeSince ?? 0),
      );
  }

  /** Resolved alerts kept for `hive alerts ls --all`, oldest first. */
  resolved(): AlertView[] {
    return [...this.#resolved];
  }
}

function matching(series: readonly Series[], labels: Labels): Series[] {
  const names = Object.keys(labels);
  if (names.length === 0) return [...series];
  return series.filter((s) => names.every((n) => s.labels[n] === labels[n]));
}
