import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { METRICS, type MetricDef } from './catalogue.ts';
import type { Readings, Telemetry } from './telemetry.ts';

const TASK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** prom-client defaults whose names break the conventions (gauges ending in _total). */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export type HistogramName =
  | 'hive_task_run_duration_seconds'
  | 'hive_task_wait_duration_seconds'
  | 'hive_audit_write_duration_seconds'
  | 'hive_store_write_duration_seconds';

/**
 * The Prometheus text format of the catalogue, with prom-client. Counters
 * and gauges are filled from one Telemetry reading per scrape (their
 * `collect` runs at render time); histograms are observed directly.
 */
export class Exposition {
  readonly registry = new Registry();
  readonly #telemetry: Telemetry;
  readonly #histograms = new Map<string, Histogram>();
  #snapshot: Readings = new Map();
  #onError: (name: string, error: unknown) => void;

  constructor(
    telemetry: Telemetry,
    options: { processMetrics: boolean },
    onError: (name: string, error: unknown) => void = () => {},
  ) {
    this.#telemetry = telemetry;
    this.#onError = onError;
    for (const metric of METRICS) this.#register(metric);
    // 50 ms: a fifth of the wake-ups of prom-client's default 10 ms event-loop histogram.
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 50 });
      // Gauges named like counters: Prometheus' lint (promtool check metrics) rejects them.
      for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    }
  }

  #register(metric: MetricDef): void {
    const base = {
      name: metric.name,
      help: metric.help,
      labelNames: [...metric.labels],
      registers: [this.registry],
    };
    const series = () => this.#snapshot.get(metric.name) ?? [];
    if (metric.type === 'histogram') {
      const buckets = metric.name.startsWith('hive_task_') ? TASK_BUCKETS : WRITE_BUCKETS;
      this.#histograms.set(metric.name, new Histogram({ ...base, buckets }));
    } else if (metric.type === 'counter') {
      new Counter({
        ...base,
        collect() {
          this.reset();
          for (const s of series()) this.inc(s.labels, s.value);
        },
      });
    } else {
      new Gauge({
        ...base,
        collect() {
          this.reset();
          for (const s of series()) this.set(s.labels, s.value);
        },
      });
    }
  }

  /** Records one observation of a histogram of the catalogue. */
  observe(name: HistogramName, seconds: number, labels: Record<string, string> = {}): void {
    this.#histograms.get(name)?.observe(labels, seconds);
  }

  /** The text exposition format, as of now. */
  async render(): Promise<string> {
    this.#snapshot = this.#telemetry.read(this.#onError);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Forgets every metric (prom-client's samplers stay: they are unref'd and end with the process). */
  close(): void {
    this.registry.clear();
  }
}
