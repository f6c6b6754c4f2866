import type { Config } from '../config/schema.ts';
import type { Logger } from '../logs/log-hub.ts';

type WebhookConfig = Config['health']['webhooks'][string];

interface Outbox {
  items: unknown[];
  running: boolean;
}

/**
 * Sends alert events to the webhook of their rule group: a JSON POST each,
 * in order per group, retried with exponential backoff. It never blocks the
 * daemon: each group has a bounded outbox drained by one async loop, and
 * an event that exhausts its attempts (or is pushed out of a full outbox)
 * is dropped with a log line.
 */
export class Webhooks {
  #config: Record<string, WebhookConfig>;
  readonly #log: Logger;
  readonly #outboxes = new Map<string, Outbox>();
  readonly #closing = new AbortController();

  constructor(config: Record<string, WebhookConfig>, deps: { log: Logger }) {
    this.#config = config;
    this.#log = deps.log;
  }

  setConfig(config: Record<string, WebhookConfig>): void {
    this.#config = config;
  }

  /** Queues one event for the group's webhook (nothing when the group has none). */
  send(group: string, event: unknown): void {
    const hook = this.#config[group];
    if (!hook || this.#closing.signal.aborted) return;
    let outbox = this.#outboxes.get(group);
    if (!outbox) {
      outbox = { items: [], running: false };
      this.#outboxes.set(group, outbox);
    }
    outbox.items.push(event);
    if (outbox.items.length > hook.queueMax) {
      outbox.items.shift();
      this.#log.warn(`webhook ${group}: outbox full (${hook.queueMax}); dropped the oldest event`);
    }
    if (!outbox.running) void this.#drain(group, outbox);
  }

  async #drain(group: string, outbox: Outbox): Promise<void> {
    outbox.running = true;
    try {
      while (outbox.items.length > 0 && !this.#closing.signal.aborted) {
        await this.#deliver(group, outbox.items[0]);
        outbox.items.shift();
      }
    } finally {
      outbox.running = false;
    }
  }

  /** Tries one event until it is accepted (2xx) or its attempts are used up. */
  async #deliver(group: string, event: unknown): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 1; ; attempt++) {
      const hook = this.#config[group];
      if (!hook || this.#closing.signal.aborted) return;
      const problem = await this.#post(hook, body);
      if (problem === undefined) return;
      if (attempt >= hook.maxAttempts) {
        this.#log.error(`webhook ${group}: gave up after ${attempt} attempts: ${problem}`, {
          event,
        });
        return;
      }
      const delay = Math.min(hook.initialDelayMs * 2 ** (attempt - 1), hook.maxDelayMs);
      this.#log.warn(
        `webhook ${group}: attempt ${attempt} failed (${problem}); retry in ${delay} ms`,
      );
      await this.#sleep(delay);
    }
  }

  async #post(hook: WebhookConfig, body: string): Promise<string | undefined> {
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...hook.headers },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(hook.timeoutMs), this.#closing.signal]),
      });
      await response.body?.cancel();
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      return (error as Error).message;
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      timer.unref();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops sending: events still waiting are dropped (they are in health-alerts.jsonl). */
  close(): void {
    this.#closing.abort();
  }
}
