import { canonicalJson } from '../../protocol/audit.ts';
import type { MacKey } from '../../protocol/audit-chain.ts';
import { isSecretName } from '../core/secret-names.ts';

export interface RedactOptions {
  /** Digests of redacted values are HMACs under a key derived from this; none: plain `[redacted]`. */
  key: MacKey | undefined;
  /** Secret values (from the environment variables named in `audit.secretEnv`), by name. */
  secrets: ReadonlyMap<string, string>;
  /** Extra argument names to redact, besides the built-in patterns. */
  fields: readonly string[];
}

/** Task payloads and message bodies are user data: stored only as their size and a digest. */
const USER_DATA: ReadonlySet<string> = new Set(['payload', 'body']);
/** A bot's environment (deploy.start's env): names kept, every value a digest, as config show does. */
const ENVIRONMENT = 'env';
const MAX_STRING = 1024;
const MAX_ITEMS = 50;
const MAX_DEPTH = 6;

/**
 * Makes arguments and details safe to store: values under secret-looking
 * names and task payloads become digests (HMACs when a key is configured,
 * so equal values can still be matched up), secret environment values are
 * cut out of any string, and long strings and lists are shortened.
 */
export class Redactor {
  readonly #digestKey: MacKey | undefined;
  readonly #secrets: [string, string][];
  readonly #fields: Set<string>;

  constructor(options: RedactOptions) {
    this.#digestKey = options.key?.derive('redact');
    // Longest first: a secret that contains another is replaced whole.
    this.#secrets = [...options.secrets]
      .filter(([, v]) => v.length >= 4)
      .sort((a, b) => b[1].length - a[1].length);
    this.#fields = new Set(
      [...options.fields, ...options.secrets.keys()].map((f) => f.toLowerCase()),
    );
  }

  redact(value: Record<string, unknown>): Record<string, unknown> {
    return this.#object(value, 0);
  }

  #digest(value: unknown, json = canonicalJson(value)): string {
    if (!this.#digestKey) return '[redacted]';
    return `[redacted hmac:${this.#digestKey.mac(json).slice(0, 16)}]`;
  }

  #object(value: Record<string, unknown>, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let count = 0;
    for (const [name, member] of Object.entries(value)) {
      if (member === undefined) continue;
      if (++count > MAX_ITEMS) {
        out['…'] = `${Object.keys(value).length - MAX_ITEMS} more`;
        break;
      }
      if (USER_DATA.has(name)) out[name] = this.#payload(member);
      else if (name === ENVIRONMENT && isRecord(member)) out[name] = this.#environment(member);
      else if (isSecretName(name, this.#fields)) out[name] = this.#digest(member);
      else out[name] = this.#value(member, depth + 1);
    }
    return out;
  }

  #environment(env: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.keys(env).map((k) => [k, this.#digest(env[k])]));
  }

  #payload(value: unknown): Record<string, unknown> {
    const json = canonicalJson(value);
    return { bytes: Buffer.byteLength(json), digest: this.#digest(value, json) };
  }

  #value(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.#string(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth > MAX_DEPTH) return '[too deep]';
    if (Array.isArray(value)) {
      const items = value.slice(0, MAX_ITEMS).map((v) => this.#value(v, depth + 1));
      if (value.length > MAX_ITEMS) items.push(`… ${value.length - MAX_ITEMS} more`);
      return items;
    }
    return this.#object(value as Record<string, unknown>, depth);
  }

  #string(value: string): string {
    let out = value;
    for (const [name, secret] of this.#secrets) {
      if (out.includes(secret)) out = out.replaceAll(secret, `[redacted:${name}]`);
    }
    return out.length > MAX_STRING ? `${out.slice(0, MAX_STRING)}… (${out.length} chars)` : out;
  }

  /** A free-text field (a reason) with secret values cut out. */
  text(value: string): string {
    return this.#string(value);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
