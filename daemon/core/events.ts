/**
 * A small typed event emitter. Each part declares an `XEvents` map of event
 * name → payload, so a misspelled event or a wrong payload fails to compile.
 * A listener that throws is reported to `onListenerError` instead of
 * unwinding into the part that emitted: one bad subscriber must not break the
 * daemon's bookkeeping.
 */
// biome-ignore lint/suspicious/noExplicitAny: listener argument lists are checked per event map
export type EventMap = Record<string, any>;
type Listener<P> = (payload: P) => void;

export class TypedEmitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  #onListenerError: (error: unknown, event: string) => void = (error, event) => {
    process.emitWarning(`listener for ${event} threw: ${String(error)}`);
  };

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** True when someone listens: lets hot paths skip building payloads. */
  hasListeners(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.#onListenerError(error, String(event));
      }
    }
  }

  setListenerErrorHandler(handler: (error: unknown, event: string) => void): void {
    this.#onListenerError = handler;
  }
}
