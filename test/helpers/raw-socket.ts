/**
 * A deliberately dumb client of the control socket on a plain `net` socket:
 * it writes whatever bytes a test gives it (broken frames included) and
 * hands back every frame the daemon sends, parsed.
 */
import { connect, type Socket } from 'node:net';

export interface WireFrame {
  type: string;
  data: {
    id?: string | number | null;
    ok?: boolean;
    result?: unknown;
    error?: { code: string; message: string };
    event?: unknown;
  };
}

export class RawClient {
  readonly #socket: Socket;
  readonly #frames: WireFrame[] = [];
  readonly #waiters: (() => void)[] = [];
  #buffer = '';
  #isClosed = false;
  /** Resolves when the daemon (or we) closed the connection. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end = this.#buffer.indexOf('\f');
      while (end !== -1) {
        this.#frames.push(JSON.parse(this.#buffer.slice(0, end)) as WireFrame);
        this.#buffer = this.#buffer.slice(end + 1);
        end = this.#buffer.indexOf('\f');
      }
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      });
    });
  }

  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Writes raw text (or bytes) as is. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.write(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Writes one well-formed request frame. */
  request(id: string | number, cmd: string, args?: unknown): Promise<void> {
    return this.write(`${JSON.stringify({ type: 'request', data: { id, cmd, args } })}\f`);
  }

  /** The next frame from the daemon; rejects if the connection closes first or on timeout. */
  async next(timeoutMs = 10_000): Promise<WireFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) return frame;
      if (this.#isClosed) throw new Error('connection closed before a frame arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves true if the connection closes within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Frames received and not yet taken with next(). */
  get pending(): number {
    return this.#frames.length;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  end(): void {
    this.#socket.end();
  }
}
