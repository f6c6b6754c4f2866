/**
 * What the degradation and health parts show over the socket (`hive mode`,
 * `hive health`, `hive alerts ls`, `hive top`), shared by the daemon and the
 * client. Fields are added, never renamed: scripts read the `--json` forms.
 */

export const MODES = ['full', 'degraded', 'maintenance'] as const;
export type Mode = (typeof MODES)[number];

/** FULL < DEGRADED < MAINTENANCE. */
export function modeRank(mode: Mode): number {
  return MODES.indexOf(mode);
}

/** Every signal the resource monitor samples (queue signals per bot kind). */
export const SIGNALS = ['memory', 'cpu', 'eventLoop', 'disk', 'queueDepth', 'queueAge'] as const;
export type SignalName = (typeof SIGNALS)[number];

export interface SignalView {
  name: SignalName;
  /** The worst kind, for the per-kind queue signals. */
  kind?: string;
  value: number | null;
  unit: 'ratio' | 'seconds' | 'tasks';
  /** Where the value came from: `psi`, `meminfo`, `loadavg`, `statfs`... */
  source?: string;
  /** False: measured and shown, but it moves no mode. */
  trigger: boolean;
  enterAt: number;
  exitAt: number;
  hardAt?: number;
  /** Samples in a row at or past enterAt. */
  consecutive: number;
}

export interface ModeHolder {
  /** `daemon`, or the user who set it. */
  actor: string;
  reason: string;
  at: number;
  /** The signal behind an automatic change. */
  signal?: string;
  value?: number;
  threshold?: number;
}

export interface KindPressure {
  kind: string;
  queued: number;
  oldestAgeSeconds: number;
  /** Share of low-priority submissions refused now (0–1). */
  shedShare: number;
  /** The kind its tasks go to now instead, and why. */
  routedTo?: { kind: string; reason: string };
}

export interface ModeView {
  mode: Mode;
  /** What the signals alone say (the mode once a manual hold ends). */
  auto: Mode;
  /** Set by `hive mode set`: holds until `hive mode auto`. */
  manual: (ModeHolder & { mode: Mode }) | null;
  since: number;
  setBy: ModeHolder;
  signals: SignalView[];
  kinds: KindPressure[];
  /** Optional work paused in this mode. */
  paused: string[];
  /** When the automatic mode may step down next, if the signals stay calm. */
  nextStepDown: { to: Mode; at: number } | null;
  settings: {
    intervalMs: number;
    consecutiveSamples: number;
    transitionPeriodMs: number;
    minDwellMs: number;
  };
}

/** One line of degradation-events.jsonl, and the `mode.changed` audit details. */
export interface ModeTransition {
  from: Mode;
  to: Mode;
  /** The signal that crossed (null: a manual change or a calm step down). */
  signal: string | null;
  value: number | null;
  threshold: number | null;
  actor: string;
  reason: string;
  manual: boolean;
  at: number;
}

export const HEALTH_STATES = ['healthy', 'degraded', 'critical'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
export type AlertSeverity = 'warning' | 'critical';
export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface AlertView {
  /** Rule name. */
  name: string;
  labels: Record<string, string>;
  component: string;
  severity: AlertSeverity;
  state: AlertState;
  summary: string;
  metric: string;
  op: string;
  threshold: number;
  /** The last value seen. */
  value: number;
  /** When the condition began to hold (pending). */
  activeSince: number | null;
  firedAt: number | null;
  resolvedAt: number | null;
}

export interface ComponentHealth {
  name: string;
  state: HealthState;
  /** Firing alerts behind the state. */
  alerts: string[];
}

export interface HealthView {
  state: HealthState;
  components: ComponentHealth[];
  firing: AlertView[];
  pending: number;
  at: number;
}

/** One frame of `hive top`. */
export interface TopFrame {
  at: number;
  daemon: { pid: number; uptimeMs: number; cpuRatio: number; rssBytes: number };
  mode: { mode: Mode; manual: boolean; reason: string; since: number };
  health: HealthState;
  bots: {
    name: string;
    kind: string;
    /** What the bot reported in its ready message (null before it is ready). */
    version: string | null;
    state: string;
    pid: number | null;
    /** Share of one core over the last interval. */
    cpuRatio: number | null;
    rssBytes: number | null;
    inflight: number;
    concurrency: number;
    tasksDone: number;
    restarts: number;
  }[];
  queue: {
    counts: Record<string, number>;
    kinds: { kind: string; queued: number; running: number; oldestAgeSeconds: number }[];
  };
  alerts: { name: string; severity: AlertSeverity; component: string; summary: string }[];
}
