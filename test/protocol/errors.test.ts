import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  ERROR_CODES,
  type ErrorCode,
  HiveError,
  isErrorCode,
  toWireError,
} from '../../protocol/errors.ts';

const CODE_PATTERN = /^HIVE_[A-Z]+_[A-Z_]+$/;
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

/** Codes in the first column of ERRORS.md's tables, in order of appearance. */
function documentedCodes(): string[] {
  const text = readFileSync(new URL('../../ERRORS.md', import.meta.url), 'utf8');
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\|\s*`([^`]+)`\s*\|/.exec(line);
    if (match?.[1]) found.push(match[1]);
  }
  return found;
}

test('every error code has the HIVE_<PART>_<WHAT> form', (t) => {
  t.true(codes.length > 0);
  for (const code of codes) t.regex(code, CODE_PATTERN, code);
});

test('every error code is unique and each key equals its code', (t) => {
  // Object keys cannot repeat at run time (a repeated key silently wins), so
  // count the keys as written in the source.
  const source = readFileSync(new URL('../../protocol/errors.ts', import.meta.url), 'utf8');
  const catalogue = source.slice(source.indexOf('ERROR_CODES = {'), source.indexOf('} as const'));
  const written = [...catalogue.matchAll(/^\s+(\w+):/gm)].map((m) => m[1]);
  t.deepEqual(written, codes, 'each key is written once, in the order of the catalogue');
  t.is(
    new Set(codes.map((c) => c.toLowerCase())).size,
    codes.length,
    'no two codes differ only in case',
  );
  for (const code of codes) {
    t.true(isErrorCode(code));
    // The key is the code on the wire: an error raised with it carries it unchanged.
    const wire = new HiveError(code, 'x').toWire();
    t.is(wire.code, code);
    t.true(ERROR_CODES[code].length > 0, `${code} has a description`);
  }
});

test('ERRORS.md documents every code exactly once and no unknown code', (t) => {
  const documented = documentedCodes();
  const known = new Set<string>(codes);
  t.deepEqual(
    documented.filter((c) => !known.has(c)),
    [],
    'codes in ERRORS.md that protocol/errors.ts does not define',
  );
  t.deepEqual(
    codes.filter((c) => !documented.includes(c)),
    [],
    'codes missing from ERRORS.md',
  );
  t.deepEqual(
    documented.filter((c, i) => documented.indexOf(c) !== i),
    [],
    'codes listed twice',
  );
});

test('anything thrown becomes a wire error with a known code', (t) => {
  t.deepEqual(new HiveError('HIVE_TASK_NOT_FOUND', 'gone').toWire(), {
    code: 'HIVE_TASK_NOT_FOUND',
    message: 'gone',
  });
  t.deepEqual(new HiveError('HIVE_IPC_BAD_ARGS', 'bad', { field: 'x' }).toWire(), {
    code: 'HIVE_IPC_BAD_ARGS',
    message: 'bad',
    details: { field: 'x' },
  });
  t.deepEqual(toWireError(new Error('boom')), { code: 'HIVE_DAEMON_INTERNAL', message: 'boom' });
  t.deepEqual(toWireError('plain'), { code: 'HIVE_DAEMON_INTERNAL', message: 'plain' });
  t.false(isErrorCode('HIVE_NOPE_NOPE'));
  t.false(isErrorCode('toString'));
  t.false(isErrorCode(42));
});
