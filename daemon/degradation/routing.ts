import type { Mode } from '../../protocol/health.ts';
import type { Bot } from '../bots/bot.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { DispatchRoute } from '../tasks/route.ts';

/** The kind that handles a type (the first in config order, as task.submit's timeout lookup does). */
export function kindOfType(bots: BotSupervisor, type: string): string | undefined {
  for (const kind of bots.kinds()) if (bots.pool(kind)?.spec.taskTypes.has(type)) return kind;
  return undefined;
}

/** What the router asks of the degradation part at each dispatch pass. */
export interface RouteState {
  mode(): Mode;
  /** Priority-0 tasks still go out in MAINTENANCE. */
  dispatchUrgent(): boolean;
  /** Why a kind is shed now (DEGRADED, its share above 0, fallback routing on), or undefined. */
  shedReason(kind: string): string | undefined;
}

/**
 * Decides where a task type's tasks may go in a dispatch pass: nowhere in
 * MAINTENANCE (but priority 0 when configured), and to the type's fallback
 * kind when its own kind has no healthy bot (every bot failed or crashing
 * since it was last ready, or none at all) or is shed in DEGRADED. The
 * fast path (FULL, every pool healthy) answers undefined at once.
 */
export class FallbackRouter {
  readonly #bots: BotSupervisor;
  readonly #state: RouteState;
  /** Bots that crashed since they were last ready. */
  readonly #crashed = new Set<string>();
  /** Kinds with no healthy bot, recomputed on bot events (not per dispatch). */
  #unhealthy = new Map<string, string>();
  readonly #offs: (() => void)[];

  constructor(bots: BotSupervisor, state: RouteState) {
    this.#bots = bots;
    this.#state = state;
    const refresh = () => this.refresh();
    this.#offs = [
      bots.on('exit', ({ bot, requested }) => {
        if (!requested) this.#crashed.add(bot.name);
        refresh();
      }),
      bots.on('ready', (bot) => {
        this.#crashed.delete(bot.name);
        refresh();
      }),
      bots.on('failed', refresh),
      bots.on('start', refresh),
    ];
  }

  /** Kinds with no healthy bot now, and why. */
  get unhealthy(): ReadonlyMap<string, string> {
    return this.#unhealthy;
  }

  /** Recomputes pool health (bot events and config changes call it). */
  refresh(): void {
    const byKind = new Map<string, Bot[]>();
    for (const kind of this.#bots.kinds()) byKind.set(kind, []);
    for (const bot of this.#bots.bots()) byKind.get(bot.kind)?.push(bot);
    const unhealthy = new Map<string, string>();
    for (const [kind, bots] of byKind) {
      const why = this.#whyDown(bots);
      if (why) unhealthy.set(kind, why);
    }
    this.#unhealthy = unhealthy;
  }

  #whyDown(bots: Bot[]): string | undefined {
    if (bots.length === 0) return 'no bots';
    if (bots.some((b) => b.state === 'ready')) return undefined;
    const failed = bots.filter((b) => b.state === 'failed').length;
    const crashing = bots.filter((b) => b.state !== 'failed' && this.#crashed.has(b.name)).length;
    if (failed + crashing < bots.length) return undefined;
    if (failed === bots.length) return 'every bot failed (crash loop)';
    return `every bot failed or crashing (${failed} failed, ${crashing} restarting after a crash)`;
  }

  /** The dispatcher's hook (see DispatchRouting). */
  route(type: string): DispatchRoute | undefined {
    const mode = this.#state.mode();
    if (mode === 'full' && this.#unhealthy.size === 0) return undefined;
    const maxPriority = mode === 'maintenance' ? (this.#state.dispatchUrgent() ? 0 : -1) : 9;
    const kind = kindOfType(this.#bots, type);
    const fallback = kind === undefined ? undefined : this.#bots.pool(kind)?.spec.fallback;
    const down = kind === undefined ? undefined : this.#unhealthy.get(kind);
    const shed = kind === undefined || down ? undefined : this.#state.shedReason(kind);
    if (maxPriority < 0 || !kind || !fallback || (!down && !shed)) {
      return maxPriority === 9 ? undefined : { bots: this.#bots.candidates(type), maxPriority };
    }
    const extra = this.#bots
      .bots()
      .filter((b) => b.kind === fallback && b.available && !b.spec.taskTypes.has(type));
    const reason = down ? `${kind} has no healthy bot: ${down}` : `${kind} is shed: ${shed}`;
    return {
      // A kind that is only shed keeps its own bots beside the fallback's; one that is down has none.
      bots: [...this.#bots.candidates(type), ...extra],
      maxPriority,
      reroute: (bot) =>
        bot.kind === fallback && !bot.spec.taskTypes.has(type)
          ? { from: kind, to: fallback, reason }
          : undefined,
    };
  }

  close(): void {
    for (const off of this.#offs) off();
  }
}
