import type { z } from 'zod';
import { ConfigSchema } from './schema.ts';

/**
 * Reads the config schema back: what a key accepts, its default and its
 * description. Validation errors ("expected integer ≥ 1") and the generated
 * CONFIG.md both come from here, so they cannot drift apart.
 */

type Schema = z.core.$ZodType;

/** Narrows to zod's own union of schema classes, whose `def.type` discriminates. */
function defOf(schema: Schema): z.core.$ZodTypes['_zod']['def'] {
  return (schema as z.core.$ZodTypes)._zod.def;
}

export interface Unwrapped {
  /** The schema under any default/optional wrappers. */
  inner: Schema;
  /** The schema's own default, when it has one. */
  default?: unknown;
  optional: boolean;
  description?: string;
}

/** Strips `.default()`, `.prefault()` and `.optional()`, keeping what they said. */
export function unwrap(schema: Schema): Unwrapped {
  let current = schema;
  const out: Unwrapped = { inner: schema, optional: false };
  for (;;) {
    out.description ??= (current as { description?: string }).description;
    const def = defOf(current);
    if (def.type === 'default' || def.type === 'prefault') {
      if (def.type === 'default' && !('default' in out)) out.default = def.defaultValue;
      current = def.innerType;
    } else if (def.type === 'optional') {
      out.optional = true;
      current = def.innerType;
    } else {
      out.inner = current;
      return out;
    }
  }
}

/** The schema of a key path (`bots.echo.restart.policy`), or undefined for an unknown key. */
export function schemaAt(path: readonly string[], root: Schema = ConfigSchema): Schema | undefined {
  let current: Schema = root;
  for (const segment of path) {
    const { inner } = unwrap(current);
    const def = defOf(inner);
    if (def.type === 'object') {
      const next = def.shape[segment];
      if (!next) return undefined;
      current = next;
    } else if (def.type === 'record') {
      current = def.valueType;
    } else if (def.type === 'array' && /^\d+$/.test(segment)) {
      current = def.element;
    } else {
      return undefined;
    }
  }
  return current;
}

/** The regex a string schema must match, if any. */
export function patternOf(schema: Schema): RegExp | undefined {
  const def = defOf(unwrap(schema).inner);
  for (const check of def.checks ?? []) {
    const checkDef = check._zod.def as { format?: string; pattern?: RegExp };
    if (checkDef.format === 'regex' && checkDef.pattern) return checkDef.pattern;
  }
  return undefined;
}

function numberRange(inner: Schema): string {
  const n = inner as unknown as {
    minValue: number | null;
    maxValue: number | null;
    isInt: boolean;
  };
  const kind = n.isInt ? 'integer' : 'number';
  const min = n.minValue !== null && n.minValue > Number.MIN_SAFE_INTEGER ? n.minValue : undefined;
  const max = n.maxValue !== null && n.maxValue < Number.MAX_SAFE_INTEGER ? n.maxValue : undefined;
  if (min !== undefined && max !== undefined) return `${kind} ${min}–${max}`;
  if (min !== undefined) return `${kind} ≥ ${min}`;
  if (max !== undefined) return `${kind} ≤ ${max}`;
  return kind;
}

/** What a schema accepts, in words: "integer ≥ 1", "one of "a", "b"", "list of strings". */
export function describeType(schema: Schema): string {
  const { inner } = unwrap(schema);
  const def = defOf(inner);
  switch (def.type) {
    case 'number':
      return numberRange(inner);
    case 'string': {
      const pattern = patternOf(inner);
      if (pattern) return `string matching ${pattern.source}`;
      const min = (inner as unknown as { minLength: number | null }).minLength;
      return min && min > 0 ? 'non-empty string' : 'string';
    }
    case 'boolean':
      return 'boolean (true or false)';
    case 'enum':
      return `one of ${Object.values(def.entries)
        .map((v) => JSON.stringify(v))
        .join(', ')}`;
    case 'array':
      return `list of ${plural(describeType(def.element))}`;
    case 'record': {
      const pattern = patternOf(def.keyType);
      const names = pattern ? ` (names matching ${pattern.source})` : '';
      return `map of name to ${describeType(def.valueType)}${names}`;
    }
    case 'object':
      return 'mapping';
    default:
      return def.type;
  }
}

function plural(type: string): string {
  if (type === 'string' || type === 'non-empty string') return `${type}s`;
  return type;
}
