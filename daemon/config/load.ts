import { readFile } from 'node:fs/promises';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { HiveError } from '../../protocol/errors.ts';
import { type Config, ConfigSchema, EMBEDDED_CONFIG } from './schema.ts';

export interface ConfigProblem {
  file: string;
  path: string;
  message: string;
  line?: number;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or `embedded`. */
  source: string;
  /** Folder that relative paths in the config resolve against. */
  baseDir: string;
}

/** The built-in config: the sample bots, relative to the project root. */
export function embeddedConfig(projectRoot: string): LoadedConfig {
  return { config: ConfigSchema.parse(EMBEDDED_CONFIG), source: 'embedded', baseDir: projectRoot };
}

/**
 * Reads, parses and validates one YAML or JSON file (YAML is a superset of
 * JSON, so one parser serves both). Throws HIVE_CONFIG_INVALID with every
 * problem, each naming the key path, the bad value, what was expected and
 * the line.
 */
export async function loadConfigFile(file: string, baseDir: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new HiveError('HIVE_CONFIG_UNREADABLE', `${file}: ${(error as Error).message}`, { file });
  }
  return { config: parseConfigText(text, file), source: file, baseDir };
}

export function parseConfigText(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      file,
      path: '',
      message: e.message.split('\n')[0] ?? e.message,
      // e.linePos is only set with prettyErrors; the counter knows the line either way.
      line: lineCounter.linePos(e.pos[0]).line,
    }));
    throw invalid(file, problems);
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw invalid(file, [
      { file, path: '', message: 'expected a mapping of settings at the top level' },
    ]);
  }
  const result = ConfigSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  throw invalid(
    file,
    result.error.issues.map((issue) => describeIssue(issue, file, doc, lineCounter)),
  );
}

function invalid(file: string, problems: ConfigProblem[]): HiveError {
  const lines = problems.map(formatProblem);
  return new HiveError('HIVE_CONFIG_INVALID', `${file}: ${lines.join('; ')}`, { problems });
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line ? ` (line ${p.line})` : '';
  return p.path ? `${p.path}: ${p.message}${where}` : `${p.message}${where}`;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  file: string,
  doc: Document,
  lineCounter: LineCounter,
): ConfigProblem {
  const path = issue.path.map(String);
  let message: string;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    message = `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
    return {
      file,
      path: path.join('.'),
      message,
      line: lineOf(doc, lineCounter, [...path, keys[0] ?? '']),
    };
  }
  message = `${expectation(issue)}, got ${shown(issue.input)}`;
  return { file, path: path.join('.'), message, line: lineOf(doc, lineCounter, path) };
}

/** "expected integer ≥ 1" rather than zod's generic sentence. */
function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'too_small': {
      const op = issue.inclusive === false ? '>' : '≥';
      const what =
        issue.origin === 'number' || issue.origin === 'int' ? 'a number' : `${issue.origin} length`;
      return `expected ${what} ${op} ${String(issue.minimum)}`;
    }
    case 'too_big': {
      const op = issue.inclusive === false ? '<' : '≤';
      const what =
        issue.origin === 'number' || issue.origin === 'int' ? 'a number' : `${issue.origin} length`;
      return `expected ${what} ${op} ${String(issue.maximum)}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `expected ${issue.format === 'regex' ? `a name matching ${issue.pattern ?? 'the pattern'}` : issue.format}`;
    default:
      return issue.message;
  }
}

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function lineOf(doc: Document, lineCounter: LineCounter, path: string[]): number | undefined {
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
