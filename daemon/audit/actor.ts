import { readFileSync } from 'node:fs';
import type { Actor } from '../../protocol/wire.ts';
import type { Clock } from '../core/clock.ts';

export interface ActorCheck {
  verified: boolean;
  /** Why not, when not. */
  note?: string;
}

const TTL_MS = 2000;
const MAX_CACHED = 1024;

/**
 * Checks what a client says about itself: that its pid is a live process
 * running as the uid it claims, and that the user name belongs to that uid.
 * Only the daemon's user (and root) can open the socket at all, so this is
 * about telling users apart behind it, not about keeping strangers out. A
 * client in another pid namespace cannot be verified (its pid means
 * nothing here). Results are cached for a moment per (pid, uid, user).
 */
export class ActorVerifier {
  readonly #clock: Clock;
  readonly #read: (path: string) => string;
  readonly #cache = new Map<string, { check: ActorCheck; at: number }>();
  #users: { names: Map<number, string>; at: number } | undefined;

  constructor(clock: Clock, read: (path: string) => string = (path) => readFileSync(path, 'utf8')) {
    this.#clock = clock;
    this.#read = read;
  }

  check(actor: Actor): ActorCheck {
    if (actor.pid === undefined || actor.uid === undefined)
      return { verified: false, note: 'the client sent no pid or uid' };
    const key = `${actor.pid}:${actor.uid}:${actor.user}`;
    const now = this.#clock.now();
    const cached = this.#cache.get(key);
    if (cached && now - cached.at < TTL_MS) return cached.check;
    const check = this.#verify(actor.user, actor.uid, actor.pid);
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(key, { check, at: now });
    return check;
  }

  #verify(user: string, uid: number, pid: number): ActorCheck {
    let status: string;
    try {
      status = this.#read(`/proc/${pid}/status`);
    } catch {
      return { verified: false, note: `no process ${pid}` };
    }
    const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    if (real === undefined || Number(real) !== uid)
      return { verified: false, note: `process ${pid} runs as uid ${real ?? '?'}, not ${uid}` };
    const name = this.#userName(uid);
    if (name === undefined) return { verified: false, note: `uid ${uid} has no passwd entry` };
    if (name !== user) return { verified: false, note: `uid ${uid} is ${name}, not ${user}` };
    return { verified: true };
  }

  #userName(uid: number): string | undefined {
    const now = this.#clock.now();
    if (!this.#users || now - this.#users.at > 60_000) {
      const names = new Map<number, string>();
      try {
        for (const line of this.#read('/etc/passwd').split('\n')) {
          const [name, , id] = line.split(':');
          if (name && id && !names.has(Number(id))) names.set(Number(id), name);
        }
      } catch {
        // no passwd: every name stays unverified
      }
      this.#users = { names, at: now };
    }
    return this.#users.names.get(uid);
  }
}
