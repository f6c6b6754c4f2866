/** Structural helpers for JSON-like values (config trees, specs). */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON-like values (objects, arrays, primitives). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && sameValue(a[k], b[k]))
    );
  }
  return false;
}

/** `x` rounded to `digits` decimals (for reports, not for arithmetic). */
export function roundTo(x: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(x * scale) / scale;
}

/**
 * Orders strings by code unit, for sorting ids and names. Not
 * `localeCompare`: its first call loads ICU's collation data, about 7 MB
 * of resident memory for an idle hived.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
