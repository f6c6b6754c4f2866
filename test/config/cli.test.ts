import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { mainFile, nextRecords, saveAtomic } from '../helpers/config.ts';
import { echoBot, runHive, startDaemon, tempDir } from '../helpers/daemon.ts';

test('hive config check works with no daemon: valid, invalid, a drop-in, a missing file', async (t) => {
  const stateDir = join(tempDir(t), 'state');
  const configDir = join(stateDir, 'config');
  mkdirSync(join(configDir, 'conf.d'), { recursive: true });
  const at = ['--state-dir', stateDir];

  // No file at all: the embedded default is valid.
  const embedded = await runHive(['config', 'check', ...at, '--json']);
  t.is(embedded.code, 0, embedded.stderr);
  t.like(JSON.parse(embedded.stdout), {
    ok: true,
    base: 'embedded',
    botKinds: ['echo', 'textstats'],
  });

  writeFileSync(join(configDir, 'hive.yaml'), JSON.stringify({ bots: { echo: echoBot() } }));
  const ok = await runHive(['config', 'check', ...at]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^config ok: 1 bot kinds \(echo\)/);

  // A bad drop-in makes the daemon's config invalid, and checking the drop-in itself says why.
  const bad = join(configDir, 'conf.d', '10-bad.yaml');
  writeFileSync(bad, 'bots:\n  echo:\n    instances: two\n');
  for (const args of [[...at], [bad, ...at]]) {
    const invalid = await runHive(['config', 'check', ...args, '--json']);
    t.is(invalid.code, 1);
    const result = JSON.parse(invalid.stdout) as {
      ok: boolean;
      error: { code: string; problems: { file: string; path: string; line: number }[] };
    };
    t.false(result.ok);
    t.is(result.error.code, 'HIVE_CONFIG_INVALID');
    t.deepEqual(result.error.problems, [
      {
        file: bad,
        path: 'bots.echo.instances',
        message: 'expected integer ≥ 0, got "two"',
        line: 3,
      },
    ]);
  }
  const human = await runHive(['config', 'check', bad]);
  t.is(human.code, 1);
  t.regex(
    human.stdout,
    /10-bad\.yaml: bots\.echo\.instances: expected integer ≥ 0, got "two" \(line 3\)/,
  );

  // Another main file (checked with the drop-ins beside it: none), and a missing one.
  const candidate = join(tempDir(t), 'candidate.yaml');
  writeFileSync(candidate, 'queue: {defaultPriority: 3}\n');
  t.is((await runHive(['config', 'check', candidate])).code, 0);
  const missing = await runHive(['config', 'check', join(stateDir, 'nope.yaml'), '--json']);
  t.is(missing.code, 1);
  t.is(JSON.parse(missing.stdout).error.code, 'HIVE_CONFIG_UNREADABLE');
  // The other config commands need the daemon: exit 2.
  t.is((await runHive(['config', 'status', ...at])).code, 2);
});

test('hive config show, get, reload and status against a running daemon', async (t) => {
  const daemon = await startDaemon(t, {
    config: { bots: { echo: echoBot({ env: { API_TOKEN: 's3cret' } }) } },
  });
  await nextRecords(daemon, 0);
  const at = ['--socket', daemon.socket];

  const show = await runHive(['config', 'show', ...at, '--json']);
  t.is(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as {
    config: { bots: { echo: { env: Record<string, string> } } };
    origins: Record<string, { source: string; line?: number }>;
  };
  t.deepEqual(shown.config.bots.echo.env, { API_TOKEN: '<redacted>' });
  t.false(show.stdout.includes('s3cret'), 'no secret leaves the daemon');
  t.deepEqual(shown.origins['queue.retry.maxAttempts'], { source: 'default' });
  t.is(shown.origins['bots.echo.instances']?.source, mainFile(daemon));
  t.true(Number.isInteger(shown.origins['bots.echo.instances']?.line));
  const table = await runHive(['config', 'show', ...at]);
  t.regex(table.stdout, /bots\.echo\.instances\s+1\s+hive\.yaml:\d+/);
  t.regex(table.stdout, /queue\.retry\.maxAttempts\s+3\s+default/);

  const get = await runHive(['config', 'get', 'bots.echo.instances', ...at]);
  t.is(get.code, 0);
  t.is(get.stdout, '1\n');
  const unknown = await runHive(['config', 'get', 'bots.echo.colour', ...at, '--json']);
  t.is(unknown.code, 1);
  t.is(JSON.parse(unknown.stdout).error.code, 'HIVE_CONFIG_KEY_NOT_FOUND');

  const same = await runHive(['config', 'reload', ...at]);
  t.is(same.code, 0, same.stderr);
  t.is(same.stdout, 'config reloaded: no changes\n');

  saveAtomic(mainFile(daemon), { bots: { echo: echoBot({ instances: 'two' }) } });
  const rejected = await runHive(['config', 'reload', ...at]);
  t.is(rejected.code, 1, 'a rejected reload exits 1');
  t.regex(
    rejected.stdout,
    /^config rejected \[HIVE_CONFIG_INVALID\]; the running config is unchanged:/,
  );
  t.regex(rejected.stdout, /bots\.echo\.instances: expected integer ≥ 0, got "two"/);
  const status = await runHive(['config', 'status', ...at, '--json']);
  t.is(status.code, 0);
  t.like(JSON.parse(status.stdout), {
    base: 'file',
    watching: true,
    lastError: { error: { code: 'HIVE_CONFIG_INVALID' } },
  });

  saveAtomic(mainFile(daemon), { bots: { echo: echoBot({ instances: 2 }) } });
  const applied = await runHive(['config', 'reload', ...at, '--json']);
  t.is(applied.code, 0);
  const record = JSON.parse(applied.stdout) as { outcome: string; diff: unknown[] };
  // The watcher may have applied the save first; either way the file's value now runs.
  t.true(['applied', 'unchanged'].includes(record.outcome));
  t.is((await runHive(['config', 'get', 'bots.echo.instances', ...at])).stdout, '2\n');
  const text = await runHive(['config', 'status', ...at]);
  t.regex(text.stdout, /last error: none/);
});
