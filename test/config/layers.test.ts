import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { diffConfigs, Redactor } from '../../daemon/config/diff.ts';
import type { ConfigProblem } from '../../daemon/config/load.ts';
import { ConfigSchema } from '../../daemon/config/schema.ts';
import { configLocation, readSnapshot } from '../../daemon/config/sources.ts';
import { HiveError } from '../../protocol/errors.ts';
import { tempDir } from '../helpers/daemon.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A config folder with a main file (unless null) and drop-ins. */
function folder(
  t: Parameters<typeof tempDir>[0],
  main: string | null,
  dropIns: Record<string, string>,
) {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'conf.d'));
  if (main !== null) writeFileSync(join(dir, 'hive.yaml'), main);
  for (const [name, text] of Object.entries(dropIns))
    writeFileSync(join(dir, 'conf.d', name), text);
  return { dir, location: configLocation(join(dir, 'hive.yaml'), ROOT) };
}

test('drop-ins merge in name order: mappings key by key, lists and values replace', async (t) => {
  const { dir, location } = folder(
    t,
    [
      'queue:', // 1
      '  retry: { maxAttempts: 5, factor: 3 }', // 2
      'bots:', // 3
      '  echo:', // 4
      '    command: bots/echo.ts', // 5
      '    args: [--a, --b]', // 6
      '    env: { A: "1", B: "2" }', // 7
    ].join('\n'),
    {
      // Read after 10-*, whatever order the folder lists them in.
      '20-late.yaml': 'bots:\n  echo:\n    instances: 4\n',
      '10-early.yaml': 'bots:\n  echo:\n    instances: 2\n    args: [--c]\n    env: { B: "3" }\n',
      '15-queue.json': '{"queue": {"retry": {"maxAttempts": 7}}}',
      // Not drop-ins: editors' swap, backup and temp files.
      '.20-late.yaml.swp': 'garbage: [',
      '20-late.yaml~': 'garbage: [',
      'notes.txt': 'garbage: [',
    },
  );
  const snapshot = await readSnapshot(location, { mainRequired: true });
  const echo = snapshot.config.bots.echo;
  t.is(echo?.instances, 4, 'the later drop-in wins');
  t.deepEqual(echo?.args, ['--c'], 'a list replaces the whole list');
  t.deepEqual(echo?.env, { A: '1', B: '3' }, 'a mapping merges key by key');
  t.is(echo?.command, 'bots/echo.ts');
  t.is(snapshot.config.queue.retry.maxAttempts, 7);
  t.is(snapshot.config.queue.retry.factor, 3, 'a sibling key of a merged mapping stays');
  t.deepEqual(
    snapshot.files.map((f) => [f.role, f.path.slice(dir.length + 1)]),
    [
      ['main', 'hive.yaml'],
      ['drop-in', 'conf.d/10-early.yaml'],
      ['drop-in', 'conf.d/15-queue.json'],
      ['drop-in', 'conf.d/20-late.yaml'],
    ],
  );
  // Where each value came from, with lines.
  const origin = (key: string) => snapshot.origins.get(key);
  t.deepEqual(origin('bots.echo.command'), { source: join(dir, 'hive.yaml'), line: 5 });
  t.deepEqual(origin('bots.echo.instances'), {
    source: join(dir, 'conf.d', '20-late.yaml'),
    line: 3,
  });
  t.deepEqual(origin('bots.echo.env.A'), { source: join(dir, 'hive.yaml'), line: 7 });
  t.is(origin('bots.echo.env.B')?.source, join(dir, 'conf.d', '10-early.yaml'));
  t.is(origin('queue.retry.maxAttempts')?.source, join(dir, 'conf.d', '15-queue.json'));
  t.is(origin('bots.echo.concurrency'), undefined, 'a default has no file');
});

test('without a main file the embedded default is the base, and drop-ins still apply', async (t) => {
  const { location } = folder(t, null, { '50-scale.yaml': 'bots: {echo: {instances: 5}}' });
  const snapshot = await readSnapshot(location, { mainRequired: false });
  t.is(snapshot.base, 'embedded');
  t.is(snapshot.baseDir, ROOT);
  t.is(snapshot.config.bots.echo?.instances, 5);
  t.is(snapshot.config.bots.echo?.command, 'bots/echo.ts');
  t.is(snapshot.origins.get('bots.echo.command')?.source, 'embedded');
  t.truthy(snapshot.config.bots.textstats);
});

async function problemsOf(
  t: Parameters<typeof tempDir>[0],
  main: string,
  dropIns: Record<string, string>,
): Promise<{ dir: string; code: string; problems: ConfigProblem[]; message: string }> {
  const { dir, location } = folder(t, main, dropIns);
  const error = await t.throwsAsync(readSnapshot(location, { mainRequired: true }), {
    instanceOf: HiveError,
  });
  const problems = (error?.details as { problems?: ConfigProblem[] } | undefined)?.problems ?? [];
  return { dir, code: error?.code ?? '', problems, message: error?.message ?? '' };
}

test('a problem in a drop-in names the drop-in, the key path and the line', async (t) => {
  const main = 'bots:\n  echo:\n    command: bots/echo.ts\n';
  const typo = await problemsOf(t, main, {
    '10-a.yaml': 'queue:\n  retry:\n    maxAtempts: 4\n',
    '20-b.yaml': 'bots:\n  echo:\n    instances: -2\n',
  });
  t.is(typo.code, 'HIVE_CONFIG_INVALID');
  t.deepEqual(
    typo.problems.map((p) => [p.file.slice(typo.dir.length + 1), p.path, p.line]).sort(),
    [
      ['conf.d/10-a.yaml', 'queue.retry', 3],
      ['conf.d/20-b.yaml', 'bots.echo.instances', 3],
    ],
  );
  t.regex(typo.message, /unknown key "maxAtempts" \(did you mean "maxAttempts"\?\)/);
  t.regex(
    typo.message,
    /20-b\.yaml: bots\.echo\.instances: expected integer ≥ 0, got -2 \(line 3\)/,
  );

  // A kind that only a drop-in defines, without its command: the drop-in is to blame.
  const missing = await problemsOf(t, main, {
    '30-new.yaml': '\nbots:\n  resize:\n    instances: 1\n',
  });
  t.is(missing.problems.length, 1);
  t.is(missing.problems[0]?.file, join(missing.dir, 'conf.d', '30-new.yaml'));
  t.is(missing.problems[0]?.path, 'bots.resize.command');
  t.is(missing.problems[0]?.line, 4);

  // Syntax errors and empty files are per file too.
  const broken = await problemsOf(t, main, { '40-x.yaml': 'bots: [\n', '41-y.yaml': '' });
  t.deepEqual(
    broken.problems.map((p) => p.file.slice(broken.dir.length + 1)),
    ['conf.d/40-x.yaml'],
    'the first broken file stops the load',
  );
  t.is(broken.problems[0]?.line, 2);

  const badName = await problemsOf(t, 'bots:\n  Echo:\n    command: x\n', {});
  t.regex(badName.message, /bots\.Echo: expected a name: string matching \^\[a-z\]/);
});

test('diffs are leaf by leaf; a new subtree is one change; secrets are redacted', (t) => {
  const before = ConfigSchema.parse({
    bots: { echo: { command: 'a', env: { TOKEN: 'old', PLAIN: 'x' }, args: ['1'] } },
    config: { redact: ['dbUrl'] },
  });
  const after = ConfigSchema.parse({
    daemon: { logLevel: 'debug' },
    bots: {
      echo: { command: 'b', env: { TOKEN: 'new', PLAIN: 'x' }, args: ['1', '2'] },
      resize: { command: 'r' },
    },
    config: { redact: ['dbUrl'] },
  });
  const changes = diffConfigs(before, after);
  t.deepEqual(
    changes.map((c) => c.key),
    [
      'daemon.logLevel',
      'bots.echo.command',
      'bots.echo.args',
      'bots.echo.env.TOKEN',
      'bots.resize',
    ],
  );
  t.deepEqual(changes[2], { key: 'bots.echo.args', old: ['1'], new: ['1', '2'] });
  t.false('old' in (changes[4] ?? {}), 'a new kind has no old value');

  const redactor = new Redactor(['dbUrl']);
  t.deepEqual(redactor.change(changes[3] ?? { key: '' }), {
    key: 'bots.echo.env.TOKEN',
    old: '<redacted>',
    new: '<redacted>',
  });
  const resize = redactor.change(changes[4] ?? { key: '' }).new as {
    env: unknown;
    command: string;
  };
  t.is(resize.command, 'r');
  t.deepEqual(resize.env, {}, 'an empty env shows as empty');
  // Names that look like secrets, anywhere, and the listed names.
  t.is(redactor.value(['backup', 'apiKey'], 'k'), '<redacted>');
  t.is(redactor.value(['x', 'dbPassword'], 'p'), '<redacted>');
  t.is(redactor.value(['x', 'dburl'], 'u'), '<redacted>', 'listed names match in any case');
  t.deepEqual(redactor.value(['x'], { clientSecret: 's', port: 1 }), {
    clientSecret: '<redacted>',
    port: 1,
  });
  t.is(redactor.value(['daemon', 'logLevel'], 'info'), 'info');
});
