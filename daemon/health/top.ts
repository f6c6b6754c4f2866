import type { TopFrame } from '../../protocol/health.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import { roundTo } from '../core/values.ts';
import type { Degradation } from '../degradation/degradation.ts';
import type { TaskQueue } from '../tasks/task-queue.ts';
import type { Health } from './health.ts';

export interface TopSources {
  degradation: Degradation;
  health: Health;
  bots: BotSupervisor;
  queue: TaskQueue;
  startedAt: number;
  now: () => number;
}

/** One frame of `hive top`: bots, the queue by state and kind, the mode, firing alerts. */
export function topFrame(s: TopSources): TopFrame {
  const sample = s.degradation.monitor.last;
  const now = s.now();
  const mode = s.degradation.view();
  const health = s.health.view();
  return {
    at: now,
    daemon: {
      pid: process.pid,
      uptimeMs: now - s.startedAt,
      cpuRatio: roundTo(sample?.daemon.cpuRatio ?? 0),
      rssBytes: sample?.daemon.rssBytes ?? process.memoryUsage.rss(),
    },
    mode: {
      mode: mode.mode,
      manual: mode.manual !== null,
      reason: mode.setBy.reason,
      since: mode.since,
    },
    health: health.state,
    bots: s.bots.bots().map((bot) => {
      const usage = sample?.bots.get(bot.name);
      const live = usage !== undefined && usage.pid === bot.pid;
      return {
        name: bot.name,
        kind: bot.kind,
        version: bot.version ?? null,
        state: bot.state,
        pid: bot.pid ?? null,
        cpuRatio: live && usage.cpuRatio !== undefined ? roundTo(usage.cpuRatio) : null,
        rssBytes: bot.rssBytes ?? (live ? usage.rssBytes : null),
        inflight: bot.inflight.size,
        concurrency: bot.concurrency,
        tasksDone: bot.tasksDone,
        restarts: bot.restarts,
      };
    }),
    queue: {
      counts: s.queue.counts(),
      kinds: [...(sample?.kinds ?? new Map())].map(([kind, load]) => ({
        kind,
        queued: load.queued,
        running: load.running,
        oldestAgeSeconds: roundTo(load.oldestAgeSeconds),
      })),
    },
    alerts: health.firing.map((a) => ({
      name: a.name,
      severity: a.severity,
      component: a.component,
      summary: a.summary,
    })),
  };
}

/**
 * Calls `send` with a fresh frame whenever something `hive top` shows
 * changed: every monitor sample, a mode change, an alert, a bot's start,
 * readiness or exit; bursts are folded into one frame per `minGapMs`.
 * Returns the unsubscribe function.
 */
export function watchFrames(s: TopSources, send: (frame: TopFrame) => void, minGapMs = 100) {
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const emit = () => {
    timer = undefined;
    last = s.now();
    send(topFrame(s));
  };
  const poke = () => {
    if (timer) return;
    const wait = last + minGapMs - s.now();
    if (wait <= 0) emit();
    else timer = setTimeout(emit, wait);
  };
  const off = onTopChange(s, poke);
  emit();
  return () => {
    clearTimeout(timer);
    off();
  };
}

/**
 * Calls `poke` on anything that changes a top frame (a monitor sample, a
 * mode change, an alert, a bot's start, readiness or exit). Also the
 * dashboard's status feed. Returns the unsubscribe function.
 */
export function onTopChange(
  s: Pick<TopSources, 'degradation' | 'health' | 'bots'>,
  poke: () => void,
): () => void {
  const offs = [
    s.degradation.on('sample', poke),
    s.degradation.on('changed', poke),
    s.health.on('alert', poke),
    s.bots.on('ready', poke),
    s.bots.on('exit', poke),
    s.bots.on('start', poke),
  ];
  return () => {
    for (const off of offs) off();
  };
}
