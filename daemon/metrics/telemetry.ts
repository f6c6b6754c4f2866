import type { MetricName } from './catalogue.ts';

export type Labels = Record<string, string>;

export interface Series {
  labels: Labels;
  value: number;
}

export type Readings = ReadonlyMap<string, readonly Series[]>;

/** A stable key of a label set (label names in order). */
export function labelKey(labels: Labels): string {
  let key = '';
  for (const name of Object.keys(labels).sort()) key += `${name}=${labels[name]}\u0000`;
  return key;
}

/**
 * The values behind the counters and gauges of the catalogue, readable as
 * plain numbers: the alert rules read them at every monitor sample, and the
 * Prometheus exposition renders the same values at every scrape, so what
 * an alert saw and what /metrics shows cannot disagree. Counters are
 * counted here (parts' events); gauges are read from their source when
 * asked, by providers the wiring registers.
 */
export class Telemetry {
  readonly #counters = new Map<string, Map<string, Series>>();
  readonly #providers = new Map<string, () => Series[]>();

  /** Adds to a counter. */
  inc(name: MetricName, labels: Labels = {}, by = 1): void {
    let series = this.#counters.get(name);
    if (!series) {
      series = new Map();
      this.#counters.set(name, series);
    }
    const key = labelKey(labels);
    const entry = series.get(key);
    if (entry) entry.value += by;
    else series.set(key, { labels, value: by });
  }

  /**
   * Registers where a metric's series come from when read: gauges, and
   * counters their source counts itself (CPU seconds of a process).
   */
  provide(name: MetricName, provider: () => Series[]): void {
    this.#providers.set(name, provider);
  }

  /** Every counter and gauge now. A provider that throws yields no series (logged by the caller). */
  read(onError?: (name: string, error: unknown) => void): Map<string, Series[]> {
    const out = new Map<string, Series[]>();
    for (const [name, series] of this.#counters) out.set(name, [...series.values()]);
    for (const [name, provider] of this.#providers) {
      try {
        out.set(name, provider());
      } catch (error) {
        onError?.(name, error);
      }
    }
    return out;
  }
}
