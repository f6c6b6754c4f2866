import type { DeployPool, Verdict } from '../../protocol/deploy.ts';
import type { DeployConfig, MetricRule } from '../config/schema-deploy.ts';

/** Finished attempts of one pool in one window (a step), and its crashes. */
export class PoolWindow {
  done = 0;
  failed = 0;
  timeouts = 0;
  crashes = 0;
  dispatched = 0;
  readonly #latencies: number[] = [];

  /** Latencies kept per window; a step of a few thousand tasks keeps a few thousand numbers. */
  static readonly MAX_LATENCIES = 20_000;

  record(outcome: 'done' | 'error' | 'timeout' | 'crash', latencyMs: number): void {
    if (outcome === 'done') {
      this.done += 1;
      if (this.#latencies.length < PoolWindow.MAX_LATENCIES) this.#latencies.push(latencyMs);
    } else if (outcome === 'timeout') this.timeouts += 1;
    // An attempt lost to a crash is a failed attempt; the crash itself is counted by crashed().
    else this.failed += 1;
  }

  /** A bot of this pool exited without being asked to. */
  crashed(): void {
    this.crashes += 1;
  }

  /** Attempts that ended (with a result, a failure or a timeout). */
  get finished(): number {
    return this.done + this.failed + this.timeouts;
  }

  get errorRate(): number {
    return this.finished === 0 ? 0 : this.failed / this.finished;
  }

  get timeoutRate(): number {
    return this.finished === 0 ? 0 : this.timeouts / this.finished;
  }

  /** p95 of the successful attempts' latencies (null without any). */
  get p95Ms(): number | null {
    if (this.#latencies.length === 0) return null;
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? null;
  }

  /** Adds another window's counts (a cumulative baseline). */
  absorb(other: PoolWindow): void {
    this.done += other.done;
    this.failed += other.failed;
    this.timeouts += other.timeouts;
    this.crashes += other.crashes;
    this.dispatched += other.dispatched;
    for (const l of other.#latencies)
      if (this.#latencies.length < PoolWindow.MAX_LATENCIES) this.#latencies.push(l);
  }
}

export type Windows = Record<DeployPool, PoolWindow>;

export interface AnalysisInput {
  green: PoolWindow;
  /** Blue in the same window; when it ran too little there (a 100% step), its earlier windows. */
  blue: PoolWindow;
  /** Milliseconds since the step began. */
  elapsedMs: number;
}

export interface AnalysisResult {
  result: Verdict;
  reason: string;
  /** The numbers behind the verdict, for migration-log.jsonl and the audit trail. */
  numbers: Record<string, number | null>;
}

interface MetricCheck {
  name: string;
  green: number;
  blue: number;
  rule: MetricRule;
}

function fails(check: MetricCheck): boolean {
  const { green, blue, rule } = check;
  return green > blue * rule.relative && green - blue > rule.floor;
}

function describe(check: MetricCheck): string {
  const round = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(3));
  return `${check.name} green ${round(check.green)} vs blue ${round(check.blue)} (limit ×${check.rule.relative}, floor ${check.rule.floor})`;
}

/** The numbers behind a verdict, both pools side by side. */
function numbersOf(input: AnalysisInput): Record<string, number | null> {
  const { green, blue } = input;
  return {
    greenFinished: green.finished,
    blueFinished: blue.finished,
    greenErrorRate: round4(green.errorRate),
    blueErrorRate: round4(blue.errorRate),
    greenTimeoutRate: round4(green.timeoutRate),
    blueTimeoutRate: round4(blue.timeoutRate),
    greenP95Ms: green.p95Ms,
    blueP95Ms: blue.p95Ms,
    greenCrashes: green.crashes,
    blueCrashes: blue.crashes,
    elapsedMs: input.elapsedMs,
  };
}

/** The rate checks (error and timeout rate) of green against blue. */
function rateChecks(green: PoolWindow, blue: PoolWindow, rules: DeployConfig['analysis']) {
  return [
    { name: 'error rate', green: green.errorRate, blue: blue.errorRate, rule: rules.errorRate },
    {
      name: 'timeout rate',
      green: green.timeoutRate,
      blue: blue.timeoutRate,
      rule: rules.timeoutRate,
    },
  ];
}

/** FAIL when a critical check fails or two do, else PASS (noting a single non-critical miss). */
function verdictOf(
  checks: MetricCheck[],
  green: PoolWindow,
  numbers: Record<string, number | null>,
): AnalysisResult {
  const failing = checks.filter(fails);
  const critical = failing.filter((c) => c.rule.critical);
  if (critical.length > 0 || failing.length >= 2)
    return { result: 'FAIL', reason: failing.map(describe).join('; '), numbers };
  const note =
    failing.length === 1
      ? ` (one non-critical metric off: ${describe(failing[0] as MetricCheck)})`
      : '';
  return {
    result: 'PASS',
    reason: `${green.finished} green samples within limits${note}`,
    numbers,
  };
}

function tooFew(green: PoolWindow, config: DeployConfig): string | undefined {
  return green.finished < config.minSamples
    ? `${green.finished} of ${config.minSamples} green samples`
    : undefined;
}

/**
 * Judges green against blue on one window. FAIL: a critical metric fails,
 * or two others do. Crashes are judged at once (they need no samples);
 * the rest only with `minSamples` finished green attempts and after
 * `minStepDurationMs` (before that: INCONCLUSIVE, the step holds). ERROR:
 * there is nothing of blue's to compare with.
 */
export function analyse(input: AnalysisInput, config: DeployConfig): AnalysisResult {
  const { green, blue } = input;
  const rules = config.analysis;
  const numbers = numbersOf(input);
  const crashes: MetricCheck = {
    name: 'crashes',
    green: green.crashes,
    blue: blue.crashes,
    rule: rules.crashes,
  };
  if (rules.crashes.critical && fails(crashes))
    return { result: 'FAIL', reason: describe(crashes), numbers };
  const few = tooFew(green, config);
  if (few) return { result: 'INCONCLUSIVE', reason: few, numbers };
  if (input.elapsedMs < config.minStepDurationMs)
    return {
      result: 'INCONCLUSIVE',
      reason: `step ran ${input.elapsedMs} of ${config.minStepDurationMs} ms`,
      numbers,
    };
  if (blue.finished === 0)
    return { result: 'ERROR', reason: 'no blue samples to compare green with', numbers };
  const checks: MetricCheck[] = [...rateChecks(green, blue, rules), crashes];
  const greenP95 = green.p95Ms;
  const blueP95 = blue.p95Ms;
  if (greenP95 !== null && blueP95 !== null)
    checks.push({
      name: 'p95 latency ms',
      green: greenP95,
      blue: blueP95,
      rule: rules.p95LatencyMs,
    });
  return verdictOf(checks, green, numbers);
}

/**
 * Judges green's bake window (since the promotion, green at 100%) on its
 * error and timeout rates against `blue`, the baseline the last step was
 * judged on, with the same rules as a step. Latency is not judged (green
 * carries all the load now, blue carried part of it then) and crashes are
 * the crash gate's. With fewer than `minSamples` finished green attempts
 * it is INCONCLUSIVE; with no blue numbers at all blue counts as 0, so the
 * floors are the limits.
 */
export function analyseBake(input: AnalysisInput, config: DeployConfig): AnalysisResult {
  const numbers = numbersOf(input);
  const few = tooFew(input.green, config);
  if (few) return { result: 'INCONCLUSIVE', reason: few, numbers };
  return verdictOf(rateChecks(input.green, input.blue, config.analysis), input.green, numbers);
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
