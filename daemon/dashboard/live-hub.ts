import type { ServerResponse } from 'node:http';

/**
 * One live view the dashboard shows: how to read it now, and how to hear
 * that it changed. `subscribe` returns the unsubscribe function. Sources
 * are subscribed only while at least one page is open.
 */
export interface ViewSource {
  name: string;
  read(): unknown;
  subscribe(onChange: () => void): () => void;
  /** At most one push per this many ms for this view (default: the hub's `minGapMs`). */
  minGapMs?: number;
}

export interface LiveHubOptions {
  /** At most one push per source per this many ms: bursts fold into one. */
  minGapMs: number;
  /** A comment line this often keeps idle connections (and proxies) open. */
  heartbeatMs: number;
  /** A page this far behind (bytes buffered) is dropped; its EventSource reconnects. */
  maxBufferedBytes: number;
}

const DEFAULTS: LiveHubOptions = Object.freeze({
  minGapMs: 100,
  heartbeatMs: 15_000,
  maxBufferedBytes: 1 << 20,
});

interface SourceState {
  source: ViewSource;
  unsubscribe: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  lastPushAt: number;
}

/**
 * The dashboard's server-sent event feed: every open page gets one
 * `event: NAME` frame per source on connect, then one per change. A change
 * reads the source once and writes the same bytes to every page, so twenty
 * pages cost one read and twenty socket writes (BENCHMARKS.md 13).
 */
export class LiveHub {
  readonly #options: LiveHubOptions;
  readonly #sources = new Map<string, SourceState>();
  readonly #clients = new Set<ServerResponse>();
  readonly #onError: (source: string, error: unknown) => void;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    options: Partial<LiveHubOptions> = {},
    onError: (source: string, error: unknown) => void = () => {},
  ) {
    this.#options = { ...DEFAULTS, ...options };
    this.#onError = onError;
  }

  /** Adds a source (main.ts: one line per view); open pages get it at once. */
  add(source: ViewSource): void {
    if (this.#sources.has(source.name)) throw new Error(`view source ${source.name} added twice`);
    const state: SourceState = { source, unsubscribe: undefined, timer: undefined, lastPushAt: 0 };
    this.#sources.set(source.name, state);
    if (this.#clients.size > 0) {
      this.#listen(state);
      void this.#push(state);
    }
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Turns `res` into an event stream: a snapshot of every source, then changes. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    this.#clients.add(res);
    res.once('close', () => this.#detach(res));
    if (this.#clients.size === 1) this.#startListening();
    for (const state of this.#sources.values())
      void this.#frame(state).then((frame) => frame && this.#write(res, frame));
  }

  /** Ends every stream and unsubscribes (hived stopping). */
  close(): void {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#stopListening();
  }

  #detach(res: ServerResponse): void {
    if (!this.#clients.delete(res)) return;
    if (this.#clients.size === 0) this.#stopListening();
  }

  #startListening(): void {
    for (const state of this.#sources.values()) this.#listen(state);
    this.#heartbeat = setInterval(
      () => this.#broadcast(': keep-alive\n\n'),
      this.#options.heartbeatMs,
    );
    this.#heartbeat.unref();
  }

  #stopListening(): void {
    clearInterval(this.#heartbeat);
    for (const state of this.#sources.values()) {
      state.unsubscribe?.();
      state.unsubscribe = undefined;
      clearTimeout(state.timer);
      state.timer = undefined;
    }
  }

  #listen(state: SourceState): void {
    state.unsubscribe = state.source.subscribe(() => this.#changed(state));
  }

  #changed(state: SourceState): void {
    if (state.timer) return;
    const gap = state.source.minGapMs ?? this.#options.minGapMs;
    const wait = state.lastPushAt + gap - Date.now();
    state.timer = setTimeout(
      () => {
        state.timer = undefined;
        void this.#push(state);
      },
      Math.max(0, wait),
    );
  }

  async #push(state: SourceState): Promise<void> {
    state.lastPushAt = Date.now();
    const frame = await this.#frame(state);
    if (frame) this.#broadcast(frame);
  }

  /** One frame, encoded once: every page gets the same bytes. */
  async #frame(state: SourceState): Promise<Buffer | undefined> {
    try {
      const data = JSON.stringify(await state.source.read());
      return Buffer.from(`event: ${state.source.name}\ndata: ${data}\n\n`);
    } catch (error) {
      this.#onError(state.source.name, error);
      return undefined;
    }
  }

  #broadcast(frame: string | Buffer): void {
    for (const res of this.#clients) this.#write(res, frame);
  }

  #write(res: ServerResponse, frame: string | Buffer): void {
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > this.#options.maxBufferedBytes) {
      res.destroy();
      return;
    }
    res.write(frame);
  }
}
