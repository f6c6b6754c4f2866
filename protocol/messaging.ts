/**
 * What `hive msg …` and `hive sched stats` answer (a contract: fields are
 * added, never renamed). Shared by the daemon and the client.
 */

export type MessageStateName = 'queued' | 'delivered' | 'acked' | 'expired' | 'dead';
export type DeadReasonName = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/** `hive msg get ID --json`. */
export interface MessageView {
  id: string;
  from: string;
  to: string;
  /** Where it waits: `bot:NAME`, `kind:KIND` or an `@` endpoint. */
  address: string;
  topic?: string;
  priority: number;
  state: MessageStateName;
  deliveries: number;
  /** 0: unlimited. */
  maxDeliveries: number;
  body?: unknown;
  replyTo?: string;
  expectReply?: boolean;
  more?: boolean;
  createdAt: number;
  updatedAt: number;
  expiresAt?: number;
  /** Not delivered before this time (a redelivery's backoff). */
  availableAt?: number;
  bot?: string;
  ackDeadline?: number;
  ackedBy?: string;
  finishedAt?: number;
  dead?: { reason: DeadReasonName; message: string; at: number };
  history: {
    bot: string;
    at: number;
    endedAt?: number;
    outcome?: 'acked' | 'nack' | 'timeout' | 'crash' | 'released';
    reason?: string;
  }[];
}

/** `hive msg stats --json`: counters since hived started, and what waits now. */
export interface MessengerStats {
  counters: {
    /** Accepted (persisted) messages by priority. */
    sent: number[];
    delivered: number;
    /** Deliveries after the first (a nack, a missed deadline, a crash, a restart). */
    redelivered: number;
    acked: number;
    nacked: number;
    timeouts: number;
    crashes: number;
    /** Deliveries handed back without a fault (a requested stop, a daemon restart). */
    released: number;
    dead: Record<DeadReasonName, number>;
    /** Sends refused before they were persisted (no recipient, inbox full, too large). */
    refused: number;
  };
  states: Record<MessageStateName, number>;
  /** Queued messages per priority, over every inbox. */
  queuedByPriority: number[];
  /** Queued messages per receiving bot kind (a bot's own inbox counts to its kind). */
  queuedByKind: Record<string, number>;
  /** Messages out with bots, waiting for an ack. */
  inflight: number;
  topics: Record<string, string[]>;
}

/** One row of `hive sched stats --json`. */
export interface SchedulerStatRow {
  type: string;
  bot: string;
  kind: string;
  /** 0–100; null before the first sample (see README, "Scheduling"). */
  score: number | null;
  latencyMs: number | null;
  successRate: number;
  samples: number;
  done: number;
  failed: number;
  timeouts: number;
  inflight: number;
  /** Tasks the bot may run at once now, and what the config allows. */
  concurrency: number;
  configuredConcurrency: number;
  /** The adaptive (AIMD) limit, when one is set. */
  adaptiveLimit: number | null;
}

export interface SchedulerStats {
  policy: 'adaptive' | 'round-robin' | 'least-loaded';
  decisions: number;
  explored: number;
  rows: SchedulerStatRow[];
}
