import { mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'ava';
import type { ErrorCode } from '../../protocol/errors.ts';
import {
  configStatus,
  configValue,
  loadAfter,
  mainFile,
  nextRecords,
  type Record_,
  saveAtomic,
} from '../helpers/config.ts';
import { echoBot, startDaemon, status, waitForReadyBots } from '../helpers/daemon.ts';

/**
 * Every class of bad input, one after the other on one daemon: each is
 * rejected whole, reported (config-changes.jsonl, hive config status,
 * hived.log), and leaves the running config and the bots as they were; the
 * fixed file that follows is applied.
 */
test('every bad input is rejected whole and reported; the running config stays; a fix applies', async (t) => {
  const good = (attempts: number) => ({
    queue: { retry: { maxAttempts: attempts } },
    bots: { echo: echoBot({ instances: 1 }) },
  });
  const daemon = await startDaemon(t, { config: good(3) });
  const ready = await waitForReadyBots(daemon, 1, 'echo');
  const pid = ready.bots[0]?.pid;
  await nextRecords(daemon, 0);
  const file = mainFile(daemon);

  const cases: {
    name: string;
    break(): void;
    code: ErrorCode;
    message: RegExp;
  }[] = [
    {
      name: 'YAML syntax error',
      break: () => saveAtomic(file, 'queue:\n  retry: [maxAttempts: 4\nbots: {}\n'),
      code: 'HIVE_CONFIG_INVALID',
      message: /hive\.yaml: .*\(line \d\)/,
    },
    {
      name: 'wrong type',
      break: () => saveAtomic(file, { ...good(3), queue: { retry: { maxAttempts: 'three' } } }),
      code: 'HIVE_CONFIG_INVALID',
      message: /queue\.retry\.maxAttempts: expected integer ≥ 1, got "three" \(line 4\)/,
    },
    {
      name: 'unknown key',
      break: () => saveAtomic(file, { ...good(3), queue: { retry: { maxAtempts: 4 } } }),
      code: 'HIVE_CONFIG_INVALID',
      message: /queue\.retry: unknown key "maxAtempts" \(did you mean "maxAttempts"\?\) \(line 4\)/,
    },
    {
      name: 'value out of range',
      break: () => saveAtomic(file, { ...good(3), queue: { retry: { maxAttempts: 0 } } }),
      code: 'HIVE_CONFIG_INVALID',
      message: /queue\.retry\.maxAttempts: expected integer ≥ 1, got 0/,
    },
    {
      name: 'empty file',
      break: () => saveAtomic(file, ''),
      code: 'HIVE_CONFIG_INVALID',
      message: /the file is empty/,
    },
    {
      name: 'bot command that does not exist',
      break: () =>
        saveAtomic(file, { bots: { echo: echoBot({ command: '/nonexistent/bot.ts' }) } }),
      code: 'HIVE_CONFIG_INVALID',
      message: /bots\.echo\.command: \/nonexistent\/bot\.ts does not exist/,
    },
    {
      name: 'file deleted',
      break: () => unlinkSync(file),
      code: 'HIVE_CONFIG_UNREADABLE',
      message: /hive\.yaml: the file is missing/,
    },
    {
      // chmod 000 stops nobody when the tests run as root; a folder in the
      // file's place cannot be read by anyone. It goes in through a symlink,
      // so that the swap is one rename, as an editor's save is.
      name: 'unreadable file (a folder in its place)',
      break: () => {
        const folder = join(dirname(file), '.not-a-file');
        mkdirSync(folder, { recursive: true });
        symlinkSync(folder, `${file}.lnk`);
        renameSync(`${file}.lnk`, file);
      },
      code: 'HIVE_CONFIG_UNREADABLE',
      message: /hive\.yaml: it is a folder, not a file/,
    },
  ];

  let attempts = 3;
  for (const c of cases) {
    const before = readFileSync(file, 'utf8');
    const rejected = await loadAfter(daemon, c.break);
    t.is(rejected.outcome, 'rejected', c.name);
    t.is(rejected.trigger, 'watch', c.name);
    t.is(rejected.error?.code, c.code, c.name);
    t.regex(rejected.error?.message ?? '', c.message, c.name);
    t.true(rejected.files.includes(file) || rejected.files.some((f) => f.startsWith(file)), c.name);
    t.deepEqual(rejected.diff, [], `${c.name}: nothing changed`);

    // The running config and the bots are untouched, and the error is on show.
    t.is(await configValue(daemon, 'queue.retry.maxAttempts'), attempts, c.name);
    const s = await configStatus(daemon);
    t.is(s.lastError?.error?.code, c.code, `${c.name}: hive config status shows the error`);
    t.is(s.lastAttempt.outcome, 'rejected', c.name);
    const bots = (await status(daemon)).bots;
    t.deepEqual(
      bots.map((b) => [b.name, b.pid, b.state]),
      [['echo-0', pid, 'ready']],
      `${c.name}: the bots run on`,
    );

    // Fixing the file applies it (with a new value, so the load is visible).
    attempts += 1;
    const fixed = await loadAfter(daemon, () => {
      saveAtomic(file, good(attempts));
    });
    t.is(fixed.outcome, 'applied', `${c.name}: the fixed file is applied`);
    t.deepEqual(fixed.diff, [{ key: 'queue.retry.maxAttempts', old: attempts - 1, new: attempts }]);
    t.is(await configValue(daemon, 'queue.retry.maxAttempts'), attempts);
    t.is((await configStatus(daemon)).lastError, null, `${c.name}: the error is cleared`);
    t.not(readFileSync(file, 'utf8'), before);
  }
  const log = readFileSync(`${daemon.stateDir}/logs/hived.log`, 'utf8');
  t.is(
    log.split('\n').filter((l) => l.includes('config rejected (file change)')).length,
    cases.length,
    'each rejection is in hived.log',
  );
  const rejections = (await configStatus(daemon)).counts.rejected;
  t.is(rejections, cases.length, 'one rejection per bad input (no extra loads)');
});

test('hive config reload answers with the errors of a rejected file', async (t) => {
  const daemon = await startDaemon(t, {
    config: { config: { watch: false }, bots: { echo: echoBot() } },
  });
  await nextRecords(daemon, 0);
  saveAtomic(mainFile(daemon), 'bots:\n  echo:\n    command: x\n    instances: two\n');
  const record = (await daemon.call('config.reload')) as Record_;
  t.is(record.outcome, 'rejected');
  t.is(record.trigger, 'command');
  t.deepEqual(
    record.error?.problems.map((p) => [p.path, p.line]),
    [['bots.echo.instances', 4]],
  );
  t.is(record.actor?.user !== undefined, true, 'the record names who asked');
  t.deepEqual((await status(daemon)).bots.length, 1, 'the bots are as they were');
});
