import type { Bot } from '../bots/bot.ts';

/** Why a task went to a bot of another kind than the one that handles its type. */
export interface Reroute {
  from: string;
  to: string;
  reason: string;
}

/** Where tasks of one type may go in this dispatch pass. */
export interface DispatchRoute {
  /** Bots that may take one now (a fresh array: the dispatcher takes from it). */
  bots: Bot[];
  /** The least urgent priority that may be dispatched now (9: any, -1: none). */
  maxPriority: number;
  /** Set when `bot` is not of the type's own kind: what the lease records. */
  reroute?(bot: Bot): Reroute | undefined;
}

/**
 * A hook the dispatcher consults once per task type and pass (the
 * degradation part supplies it: modes, fallback kinds). Undefined: the
 * type's own ready bots, any priority.
 */
export type DispatchRouting = (type: string) => DispatchRoute | undefined;
