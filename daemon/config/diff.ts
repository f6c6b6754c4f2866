import { type ConfigChange, REDACTED } from '../../protocol/config.ts';
import { isSecretName } from '../core/secret-names.ts';
import { isPlainObject, sameValue } from '../core/values.ts';

export type { ConfigChange };

/**
 * The changed keys between two configs, leaf by leaf. A subtree that
 * appears or disappears as a whole (a new bot kind) is one change, and
 * arrays compare as values: that is how an operator thinks of them.
 */
export function diffConfigs(
  before: unknown,
  after: unknown,
  prefix: string[] = [],
): ConfigChange[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) => diffConfigs(before[key], after[key], [...prefix, key]));
  }
  if (sameValue(before, after)) return [];
  const change: ConfigChange = { key: prefix.join('.') };
  if (before !== undefined) change.old = before;
  if (after !== undefined) change.new = after;
  return [change];
}

/**
 * Hides secret values wherever config leaves the daemon (show, get, diffs,
 * logs, events): keys named like secrets, every bot's env values, and the
 * names listed in `config.redact`.
 */
export class Redactor {
  readonly #extra: ReadonlySet<string>;

  constructor(extraNames: readonly string[] = []) {
    this.#extra = new Set(extraNames.map((n) => n.toLowerCase()));
  }

  isSecret(path: readonly string[]): boolean {
    if (path[0] === 'bots' && path[2] === 'env' && path.length >= 4) return true;
    return path.some((segment) => isSecretName(segment, this.#extra));
  }

  /** A copy of `value` (found at `path`) with every secret replaced by `<redacted>`. */
  value(path: readonly string[], value: unknown): unknown {
    if (value === undefined) return undefined;
    if (this.isSecret(path)) return REDACTED;
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = this.value([...path, key], inner);
    return out;
  }

  change(change: ConfigChange): ConfigChange {
    const path = change.key === '' ? [] : change.key.split('.');
    const out: ConfigChange = { key: change.key };
    if ('old' in change) out.old = this.value(path, change.old);
    if ('new' in change) out.new = this.value(path, change.new);
    return out;
  }
}
