import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { type ConfigProblem, parseConfigText } from '../../daemon/config/load.ts';
import { ConfigSchema, EMBEDDED_CONFIG } from '../../daemon/config/schema.ts';
import { configLocation, readSnapshot } from '../../daemon/config/sources.ts';
import { HiveError } from '../../protocol/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hive-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The HIVE_CONFIG_INVALID error that parsing `text` throws, with its problems. */
function invalid(
  t: ExecutionContext,
  text: string,
): { error: HiveError; problems: ConfigProblem[] } {
  const error = t.throws(() => parseConfigText(text, 'hive.yaml'), { instanceOf: HiveError });
  if (!error) throw new Error('expected parseConfigText to throw');
  t.is(error.code, 'HIVE_CONFIG_INVALID');
  return { error, problems: (error.details as { problems: ConfigProblem[] }).problems };
}

test('the embedded config validates and its sample bots exist', async (t) => {
  t.notThrows(() => ConfigSchema.parse(EMBEDDED_CONFIG));
  // No main file and no drop-ins: the embedded default, relative to the project.
  const loaded = await readSnapshot(configLocation(join(tempDir(t), 'hive.yaml'), ROOT), {
    mainRequired: false,
  });
  t.is(loaded.base, 'embedded');
  t.deepEqual(loaded.files, []);
  t.is(loaded.baseDir, ROOT);
  const { bots } = loaded.config;
  t.deepEqual(Object.keys(bots).sort(), ['chat', 'echo', 'textstats']);
  for (const [name, kind] of Object.entries(bots)) {
    t.true(kind.instances >= 1, name);
    t.true(existsSync(join(ROOT, kind.command)), `${name}: ${kind.command} exists`);
    t.is(kind.restart.policy, 'always', `${name}: nested defaults are filled in`);
  }
});

test('a wrong type names the key path, the value, the expectation and the line', (t) => {
  const text = [
    '# hive config', // 1
    'daemon:', // 2
    '  logLevel: info', // 3
    'bots:', // 4
    '  echo:', // 5
    '    command: bots/echo.ts', // 6
    '    instances: two', // 7
    '    concurrency: 4', // 8
  ].join('\n');
  const { error, problems } = invalid(t, text);
  t.deepEqual(problems, [
    {
      file: 'hive.yaml',
      path: 'bots.echo.instances',
      message: 'expected integer ≥ 0, got "two"',
      line: 7,
    },
  ]);
  t.is(error.message, 'hive.yaml: bots.echo.instances: expected integer ≥ 0, got "two" (line 7)');
});

test('values out of range and bad enums are reported with their lines, all at once', (t) => {
  const text = [
    'queue:', // 1
    '  defaultPriority: 12', // 2
    'daemon:', // 3
    '  logLevel: loud', // 4
    'bots:', // 5
    '  echo:', // 6
    '    command: x', // 7
    '    instances: -1', // 8
  ].join('\n');
  const { problems } = invalid(t, text);
  const byPath = new Map(problems.map((p) => [p.path, p]));
  t.is(problems.length, 3);
  t.is(byPath.get('queue.defaultPriority')?.line, 2);
  t.regex(byPath.get('queue.defaultPriority')?.message ?? '', /expected integer 0–9, got 12/);
  t.is(byPath.get('daemon.logLevel')?.line, 4);
  t.regex(
    byPath.get('daemon.logLevel')?.message ?? '',
    /expected one of "error", "warn", "info", "debug", got "loud"/,
  );
  t.is(byPath.get('bots.echo.instances')?.line, 8);
  t.regex(byPath.get('bots.echo.instances')?.message ?? '', /expected integer ≥ 0, got -1/);
});

test('unknown keys are errors, at every level', (t) => {
  const text = [
    'bots:', // 1
    '  echo:', // 2
    '    command: x', // 3
    '    colour: red', // 4
    'queue:', // 5
    '  retry:', // 6
    '    maxAttempts: 3', // 7
    '    bogus: 1', // 8
    'extra: true', // 9
  ].join('\n');
  const { problems } = invalid(t, text);
  const found = problems.map((p) => [p.path, p.message, p.line]).sort();
  t.deepEqual(found, [
    ['', 'unknown key "extra"', 9],
    ['bots.echo', 'unknown key "colour"', 4],
    ['queue.retry', 'unknown key "bogus"', 8],
  ]);
});

test('a missing required value points into its block', (t) => {
  const { problems } = invalid(t, ['bots:', '  echo:', '    instances: 2'].join('\n'));
  t.is(problems.length, 1);
  t.is(problems[0]?.path, 'bots.echo.command');
  t.is(problems[0]?.message, 'expected non-empty string, got nothing');
  t.is(problems[0]?.line, 3);
});

test('a YAML syntax error is reported with its line', (t) => {
  const duplicate = invalid(
    t,
    ['daemon:', '  logLevel: info', 'daemon:', '  logLevel: warn'].join('\n'),
  );
  t.is(duplicate.problems.length, 1);
  t.is(duplicate.problems[0]?.line, 3);
  t.regex(duplicate.error.message, /unique.*\(line 3\)/);

  const indent = invalid(t, ['daemon:', '  logLevel: info', ' bots: {}', 'queue: {}'].join('\n'));
  t.is(indent.problems[0]?.line, 3);
  t.false(indent.error.message.includes('\n'), 'one line per problem');
});

test('a top level that is not a mapping is refused', (t) => {
  for (const text of ['just a string', '- a\n- b', '42']) {
    const { problems } = invalid(t, text);
    t.is(problems[0]?.message, 'expected a mapping of settings at the top level', text);
  }
});

test('an empty file is refused (a save caught halfway); one with only comments gives the defaults', (t) => {
  for (const text of ['', '\n\n', '  \n']) {
    const { problems } = invalid(t, text);
    t.regex(problems[0]?.message ?? '', /the file is empty/, JSON.stringify(text));
  }
  const defaults = ConfigSchema.parse({});
  for (const text of ['# nothing configured yet\n', '---\n', '{}']) {
    t.deepEqual(parseConfigText(text, 'hive.yaml'), defaults, JSON.stringify(text));
  }
  t.deepEqual(defaults.bots, {});
  t.is(defaults.queue.retry.maxAttempts, 3);
  t.is(defaults.ipc.maxFrameBytes, 1024 * 1024);
});

test('readSnapshot reads YAML and JSON main files', async (t) => {
  const dir = tempDir(t);
  const yamlFile = join(dir, 'hive.yaml');
  writeFileSync(yamlFile, 'bots:\n  echo:\n    command: bots/echo.ts\n    instances: 3\n');
  const fromYaml = await readSnapshot(configLocation(yamlFile, ROOT), { mainRequired: true });
  t.is(fromYaml.base, 'file');
  t.deepEqual(
    fromYaml.files.map((f) => [f.path, f.role]),
    [[yamlFile, 'main']],
  );
  t.is(fromYaml.baseDir, dir);
  t.is(fromYaml.config.bots.echo?.instances, 3);
  t.true(Object.isFrozen(fromYaml.config.bots.echo), 'snapshots are frozen all the way down');

  const jsonFile = join(dir, 'hive.json');
  writeFileSync(
    jsonFile,
    JSON.stringify(
      {
        queue: { defaultPriority: 2 },
        bots: { echo: { command: 'bots/echo.ts', args: ['--fast'] } },
      },
      null,
      2,
    ),
  );
  const fromJson = await readSnapshot(configLocation(jsonFile, ROOT), { mainRequired: true });
  t.is(fromJson.config.queue.defaultPriority, 2);
  t.deepEqual(fromJson.config.bots.echo?.args, ['--fast']);
  t.is(fromJson.config.bots.echo?.instances, 1, 'defaults fill in what JSON leaves out');

  // JSON errors get lines too.
  const badJson = join(dir, 'bad.json');
  writeFileSync(
    badJson,
    '{\n  "bots": {\n    "echo": { "command": "x", "instances": "2" }\n  }\n}\n',
  );
  const error = await t.throwsAsync(
    readSnapshot(configLocation(badJson, ROOT), { mainRequired: true }),
    { instanceOf: HiveError },
  );
  t.is(error?.code, 'HIVE_CONFIG_INVALID');
  t.regex(
    error?.message ?? '',
    /bad\.json: bots\.echo\.instances: expected integer ≥ 0, got "2" \(line 3\)/,
  );
});

test('a missing (when required) or unreadable main file gives HIVE_CONFIG_UNREADABLE', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'nope.yaml');
  const error = await t.throwsAsync(
    readSnapshot(configLocation(missing, ROOT), { mainRequired: true }),
    { instanceOf: HiveError },
  );
  t.is(error?.code, 'HIVE_CONFIG_UNREADABLE');
  t.true(error?.message.startsWith(missing));
  t.regex(error?.message ?? '', /missing/);
  // A folder where the file should be: what stops even root from reading it.
  mkdirSync(join(dir, 'folder.yaml'));
  const folder = await t.throwsAsync(
    readSnapshot(configLocation(join(dir, 'folder.yaml'), ROOT), { mainRequired: true }),
    { instanceOf: HiveError },
  );
  t.is(folder?.code, 'HIVE_CONFIG_UNREADABLE');
  t.regex(folder?.message ?? '', /a folder, not a file/);
});
