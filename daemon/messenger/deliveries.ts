import { KeyedMinHeap } from '../core/heap.ts';

/** A message out with a bot, waiting for its ack. */
export interface Delivery {
  id: string;
  bot: string;
  /** The deliver record's seq. */
  token: number;
  /** 1 for the first delivery of the message, 2 for the next... */
  number: number;
  deadline: number;
}

/**
 * The deliveries under way, in memory: which bot holds which message, each
 * bot's window, and the ack deadlines (a delivery's deadline leaves the
 * heap when the delivery ends, and moves when it is extended). A delivery
 * starts here at once, ahead of its journal record, so that an ack that
 * overtakes the fdatasync finds it.
 */
export class Deliveries {
  readonly #byId = new Map<string, Delivery>();
  readonly #byBot = new Map<string, Set<string>>();
  readonly #deadlines = new KeyedMinHeap<{ id: string; at: number }>(
    (d) => d.at,
    (d) => d.id,
  );

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Delivery | undefined {
    return this.#byId.get(id);
  }

  /** Messages a bot holds now. */
  held(bot: string): number {
    return this.#byBot.get(bot)?.size ?? 0;
  }

  start(delivery: Delivery): void {
    this.#byId.set(delivery.id, delivery);
    let held = this.#byBot.get(delivery.bot);
    if (!held) {
      held = new Set();
      this.#byBot.set(delivery.bot, held);
    }
    held.add(delivery.id);
    this.#deadlines.push({ id: delivery.id, at: delivery.deadline });
  }

  /** Ends the delivery of `id` (whoever holds it); returns it. */
  end(id: string): Delivery | undefined {
    const delivery = this.#byId.get(id);
    if (!delivery) return undefined;
    this.#byId.delete(id);
    this.#deadlines.delete(id);
    const held = this.#byBot.get(delivery.bot);
    held?.delete(id);
    if (held?.size === 0) this.#byBot.delete(delivery.bot);
    return delivery;
  }

  /** Ends every delivery a bot holds (it exited); returns them. */
  endAll(bot: string): Delivery[] {
    const ids = [...(this.#byBot.get(bot) ?? [])];
    return ids.map((id) => this.end(id)).filter((d): d is Delivery => d !== undefined);
  }

  /** Moves a delivery's deadline (an extend from its bot). */
  extend(delivery: Delivery, deadline: number): void {
    delivery.deadline = deadline;
    this.#deadlines.push({ id: delivery.id, at: deadline });
  }

  /** Ends and returns the deliveries past their deadline; the next deadline after them. */
  overdue(now: number): { due: Delivery[]; next: number | undefined } {
    const due: Delivery[] = [];
    for (let top = this.#deadlines.pop(); top; top = this.#deadlines.pop()) {
      if (top.at > now) {
        this.#deadlines.push(top);
        break;
      }
      const delivery = this.end(top.id);
      if (delivery) due.push(delivery);
    }
    return { due, next: this.#deadlines.peek()?.at };
  }
}
