import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ConfigProblem, formatProblem, type Origin } from '../../protocol/config.ts';
import { HiveError, toWireError, type WireError } from '../../protocol/errors.ts';
import { isPlainObject } from '../core/values.ts';
import { describeType, schemaAt, unwrap } from './describe.ts';
import { type Config, ConfigSchema, EMBEDDED_CONFIG } from './schema.ts';

/**
 * Parsing and validation of config layers: the main file (or the embedded
 * default), then drop-ins in name order, merged deeply (objects merge;
 * arrays and scalars replace) and validated as one. Every problem names its
 * file, key path, bad value, what was expected and the line.
 */

export type { ConfigProblem, Origin };
export { formatProblem };

export type LayerRole = 'main' | 'drop-in' | 'embedded';

/** One parsed source of settings. */
export interface ConfigLayer {
  /** The file path, or `embedded`. */
  name: string;
  role: LayerRole;
  data: Record<string, unknown>;
  /** The line of a key path in this layer's text, where the format has lines. */
  lineOf(path: readonly string[]): number | undefined;
}

export interface ResolvedConfig {
  config: Config;
  /** Origins of the key paths some layer set (objects and leaves), by dotted path. */
  origins: Map<string, Origin>;
}

export const EMBEDDED = 'embedded';

export function embeddedLayer(): ConfigLayer {
  return {
    name: EMBEDDED,
    role: 'embedded',
    data: structuredClone(EMBEDDED_CONFIG) as Record<string, unknown>,
    lineOf: () => undefined,
  };
}

/**
 * Parses one YAML or JSON text (YAML is a superset of JSON, so one parser
 * serves both). An empty file is refused: it is what a truncate-then-write
 * save looks like halfway, and applying it would drop every setting. A file
 * with only comments means "all defaults" and is accepted.
 */
export function parseLayer(text: string, file: string, role: LayerRole): ConfigLayer {
  if (text.trim() === '') {
    throw invalid([
      {
        file,
        path: '',
        message:
          'the file is empty (a save in progress?); write {} or a comment to mean "all defaults"',
      },
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw invalid(
      doc.errors.map((e) => ({
        file,
        path: '',
        message: e.message.split('\n')[0] ?? e.message,
        // e.linePos is only set with prettyErrors; the counter knows the line either way.
        line: lineCounter.linePos(e.pos[0]).line,
      })),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw invalid([{ file, path: '', message: 'expected a mapping of settings at the top level' }]);
  }
  return {
    name: file,
    role,
    data: data as Record<string, unknown>,
    lineOf: (path) => lineOf(doc, lineCounter, path),
  };
}

/** Merges the layers in order and validates the result against the schema. */
export function resolveLayers(layers: readonly ConfigLayer[]): ResolvedConfig {
  const merged: Record<string, unknown> = {};
  const origins = new Map<string, Origin>();
  for (const layer of layers) mergeInto(merged, layer.data, layer, [], origins);
  const result = ConfigSchema.safeParse(merged, { reportInput: true });
  if (result.success) return { config: result.data, origins };
  const fallback = layers.at(-1)?.name ?? EMBEDDED;
  throw invalid(result.error.issues.flatMap((issue) => describeIssue(issue, origins, fallback)));
}

/** One file on its own (tests, tools). */
export function parseConfigText(text: string, file: string): Config {
  return resolveLayers([parseLayer(text, file, 'main')]).config;
}

function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
  layer: ConfigLayer,
  prefix: string[],
  origins: Map<string, Origin>,
): void {
  for (const [key, value] of Object.entries(source)) {
    const path = [...prefix, key];
    const dotted = path.join('.');
    const line = layer.lineOf(path);
    origins.set(dotted, line === undefined ? { source: layer.name } : { source: layer.name, line });
    if (isPlainObject(value)) {
      if (!isPlainObject(target[key])) {
        forgetBelow(origins, dotted);
        setOwn(target, key, {});
      }
      mergeInto(target[key] as Record<string, unknown>, value, layer, path, origins);
    } else {
      // A replaced subtree's keys no longer come from the layer that set them.
      forgetBelow(origins, dotted);
      setOwn(target, key, value);
    }
  }
}

/** Plain assignment of "__proto__" would change the object's prototype instead of adding a key. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function forgetBelow(origins: Map<string, Origin>, dotted: string): void {
  const prefix = `${dotted}.`;
  for (const key of origins.keys()) if (key.startsWith(prefix)) origins.delete(key);
}

/**
 * Any load failure as a wire error with its problems: config errors carry
 * them in `details.problems`; anything else becomes one problem of `file`.
 */
export function failureOf(error: unknown, file: string): WireError & { problems: ConfigProblem[] } {
  const wire = toWireError(error);
  const details = isPlainObject(wire.details) ? wire.details : {};
  const problems = Array.isArray(details.problems)
    ? (details.problems as ConfigProblem[])
    : [{ file, path: '', message: wire.message }];
  return { ...wire, problems };
}

export function invalid(problems: ConfigProblem[]): HiveError {
  const text = problems.map((p) => `${p.file}: ${formatProblem(p)}`).join('; ');
  return new HiveError('HIVE_CONFIG_INVALID', text, { problems });
}

/** The file (and line) that set a key path, or that set its nearest parent. */
function locate(
  path: readonly string[],
  origins: Map<string, Origin>,
  fallback: string,
): { file: string; line?: number } {
  for (let depth = path.length; depth > 0; depth--) {
    const origin = origins.get(path.slice(0, depth).join('.'));
    if (origin)
      return origin.line ? { file: origin.source, line: origin.line } : { file: origin.source };
  }
  return { file: fallback };
}

function describeIssue(
  issue: z.core.$ZodIssue,
  origins: Map<string, Origin>,
  fallback: string,
): ConfigProblem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    // One problem per key: in a merged config each may come from another file.
    return issue.keys.map((key) => ({
      ...locate([...path, key], origins, fallback),
      path: path.join('.'),
      message: `unknown key ${JSON.stringify(key)}${suggestion(path, key)}`,
    }));
  }
  return [
    {
      ...locate(path, origins, fallback),
      path: path.join('.'),
      message: `${expectation(issue, path)}, got ${shown(issue.input)}`,
    },
  ];
}

/** "did you mean" for a near miss among the known keys at that level. */
function suggestion(path: readonly string[], key: string): string {
  const schema = schemaAt(path);
  const shape = schema && (unwrap(schema).inner as { shape?: Record<string, unknown> }).shape;
  const known = shape ? Object.keys(shape) : [];
  const near = known.find(
    (k) => k.toLowerCase() === key.toLowerCase() || editDistance(k, key) <= 2,
  );
  return near ? ` (did you mean "${near}"?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        current + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

/** "expected integer ≥ 1", from the schema itself rather than zod's generic sentence. */
function expectation(issue: z.core.$ZodIssue, path: readonly string[]): string {
  if (issue.code === 'invalid_key') {
    const record = schemaAt(path.slice(0, -1));
    const keyType = record && (unwrap(record).inner as { keyType?: z.core.$ZodType }).keyType;
    return `expected a name: ${keyType ? describeType(keyType) : 'see CONFIG.md'}`;
  }
  const schema = schemaAt(path);
  if (schema) return `expected ${describeType(schema)}`;
  return issue.message;
}

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function lineOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly string[],
): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    const range = (isScalar(node) || isMap(node) || isSeq(node)) && node.range;
    if (range) return lineCounter.linePos(range[0]).line;
    // A missing value: point at its key instead.
    if (depth > 0) {
      const parent = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true);
      if (isMap(parent)) {
        const pair = parent.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === path[depth - 1],
        );
        const keyRange = pair && isScalar(pair.key) ? pair.key.range : undefined;
        if (keyRange) return lineCounter.linePos(keyRange[0]).line;
      }
    }
  }
  return undefined;
}
