import type { SignalName } from '../../protocol/health.ts';
import type { Bot } from '../bots/bot.ts';
import type { Clock } from '../core/clock.ts';
import { TypedEmitter } from '../core/events.ts';
import type { QueueWatch } from './queue-watch.ts';
import type { Sampler } from './sampler.ts';

/** One value of one signal (queue signals: one per bot kind). */
export interface SignalReading {
  signal: SignalName;
  value: number;
  kind?: string;
  source?: string;
}

export interface BotUsage {
  name: string;
  kind: string;
  pid: number;
  /** Share of one core since the previous sample (undefined on a bot's first sample). */
  cpuRatio: number | undefined;
  cpuSeconds: number;
  rssBytes: number;
}

export interface KindLoad {
  queued: number;
  running: number;
  oldestAgeSeconds: number;
}

export interface Sample {
  at: number;
  readings: SignalReading[];
  kinds: Map<string, KindLoad>;
  bots: Map<string, BotUsage>;
  diskFreeBytes: number | undefined;
  daemon: { cpuRatio: number; rssBytes: number };
  /** How long taking this sample took (the monitor's own cost). */
  durationMs: number;
}

/** What the monitor reads of the bots: every bot, and which kind handles a task type. */
export interface FleetView {
  bots(): Bot[];
  kindOfType(type: string): string | undefined;
}

/** Tasks of a type no configured kind handles (a removed kind) are counted here. */
export const NO_KIND = '(none)';

/**
 * Samples every signal on an interval and emits one `sample`: host memory
 * and CPU, the event-loop delay of the last interval, the state disk, queue
 * depth and oldest age per kind, each bot's CPU and RSS (one /proc read per
 * bot). Cheap by design: a few small file reads and no scans of the queue.
 */
export class ResourceMonitor extends TypedEmitter<{ sample: Sample }> {
  readonly #sampler: Sampler;
  readonly #clock: Clock;
  readonly #fleet: FleetView;
  readonly #queue: QueueWatch;
  readonly #stateDir: string;
  #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #last: Sample | undefined;
  #previousCpu = new Map<string, { pid: number; cpuSeconds: number; at: number }>();
  #daemonCpu = { usage: process.cpuUsage(), at: 0 };

  constructor(
    options: { intervalMs: number; stateDir: string },
    deps: { sampler: Sampler; clock: Clock; fleet: FleetView; queue: QueueWatch },
  ) {
    super();
    this.#intervalMs = options.intervalMs;
    this.#stateDir = options.stateDir;
    this.#sampler = deps.sampler;
    this.#clock = deps.clock;
    this.#fleet = deps.fleet;
    this.#queue = deps.queue;
    this.#daemonCpu.at = this.#clock.now();
  }

  /** The newest sample (undefined before the first). */
  get last(): Sample | undefined {
    return this.#last;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  start(): void {
    this.#schedule();
    this.sampleNow();
  }

  setInterval(ms: number): void {
    if (ms === this.#intervalMs) return;
    this.#intervalMs = ms;
    if (this.#timer) this.#schedule();
  }

  #schedule(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.sampleNow(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Takes a sample and emits it (tests and the interval call this). */
  sampleNow(): Sample {
    const started = performance.now();
    const at = this.#clock.now();
    const readings: SignalReading[] = [];
    const host = (signal: SignalName, reading: { value: number; source: string } | undefined) => {
      if (reading) readings.push({ signal, value: reading.value, source: reading.source });
    };
    host('memory', this.#sampler.memory());
    host('cpu', this.#sampler.cpu());
    const disk = this.#sampler.disk(this.#stateDir);
    host('disk', disk);
    readings.push({ signal: 'eventLoop', value: this.#sampler.eventLoopP99() });
    const bots = this.#bots(at);
    const kinds = this.#kinds();
    for (const [kind, load] of kinds) {
      readings.push({ signal: 'queueDepth', value: load.queued, kind });
      readings.push({ signal: 'queueAge', value: load.oldestAgeSeconds, kind });
    }
    const sample: Sample = {
      at,
      readings,
      kinds,
      bots,
      diskFreeBytes: disk?.freeBytes,
      daemon: this.#daemon(at),
      durationMs: 0,
    };
    sample.durationMs = performance.now() - started;
    this.#last = sample;
    this.emit('sample', sample);
    return sample;
  }

  #bots(at: number): Map<string, BotUsage> {
    const out = new Map<string, BotUsage>();
    const previous = this.#previousCpu;
    this.#previousCpu = new Map();
    for (const bot of this.#fleet.bots()) {
      if (bot.pid === undefined) continue;
      const reading = this.#sampler.process(bot.pid);
      if (!reading) continue;
      const before = previous.get(bot.name);
      const seconds = before ? (at - before.at) / 1000 : 0;
      const cpuRatio =
        before && before.pid === bot.pid && seconds > 0
          ? Math.max(0, (reading.cpuSeconds - before.cpuSeconds) / seconds)
          : undefined;
      this.#previousCpu.set(bot.name, { pid: bot.pid, cpuSeconds: reading.cpuSeconds, at });
      out.set(bot.name, { name: bot.name, kind: bot.kind, pid: bot.pid, cpuRatio, ...reading });
    }
    return out;
  }

  /** Every kind with bots or queued tasks: queued, running, oldest age. */
  #kinds(): Map<string, KindLoad> {
    const kinds = new Map<string, KindLoad>();
    const of = (kind: string) => {
      let load = kinds.get(kind);
      if (!load) {
        load = { queued: 0, running: 0, oldestAgeSeconds: 0 };
        kinds.set(kind, load);
      }
      return load;
    };
    for (const bot of this.#fleet.bots()) of(bot.kind).running += bot.inflight.size;
    for (const [type, depth] of this.#queue.byType()) {
      const load = of(this.#fleet.kindOfType(type) ?? NO_KIND);
      load.queued += depth.queued;
      load.oldestAgeSeconds = Math.max(load.oldestAgeSeconds, depth.oldestAgeSeconds);
    }
    return kinds;
  }

  #daemon(at: number): Sample['daemon'] {
    const usage = process.cpuUsage();
    const prior = this.#daemonCpu;
    const seconds = (at - prior.at) / 1000;
    const cpuSeconds =
      (usage.user - prior.usage.user + usage.system - prior.usage.system) / 1_000_000;
    this.#daemonCpu = { usage, at };
    return {
      cpuRatio: seconds > 0 ? cpuSeconds / seconds : 0,
      rssBytes: process.memoryUsage.rss(),
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sampler.close();
  }
}
