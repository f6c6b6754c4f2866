import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { AuditEntry } from '../../protocol/audit.ts';
import { fixtureBot, runHive, startDaemon, tempDir, waitFor } from '../helpers/daemon.ts';

test('bot lifecycle lands in the trail; the CLI queries, follows, verifies and exports it, and catches tampering', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      supervision: { memoryCheckIntervalMs: 100 },
      bots: {
        loop: fixtureBot('crash-at-start.ts', {
          restart: { initialDelayMs: 20, maxDelayMs: 50, maxRestarts: 2, windowMs: 60_000 },
        }),
        hog: fixtureBot('memory-hog.ts', { memoryLimitMb: 150, taskTypes: ['hog'] }),
      },
    },
  });
  const hive = (...args: string[]) => runHive([...args, '--socket', daemon.socket]);
  const query = async (args: Record<string, unknown>) =>
    ((await daemon.call('audit.query', { limit: 100, ...args })) as { entries: AuditEntry[] })
      .entries;
  /** Waits for at least one match (an empty list is not an answer yet). */
  const first = (args: Record<string, unknown>, what: string) =>
    waitFor(async () => (await query(args))[0], { what });

  // Follow the trail while things happen.
  const followed: AuditEntry[] = [];
  const follower = await daemon.connect();
  const following = follower.request(
    'audit.tail',
    { lines: 0, follow: true },
    {
      onEvent: (e) => followed.push(e as AuditEntry),
    },
  );

  const failed = await first({ action: 'bot.failed', target: 'loop-0' }, 'loop-0 to be given up');
  t.is(failed?.severity, 'critical');
  const loop = await query({ target: 'loop-0' });
  t.true(loop.filter((e) => e.action === 'bot.crash').length >= 3);
  t.true(loop.filter((e) => e.action === 'bot.restart').length >= 2);
  t.like(
    loop.find((e) => e.action === 'bot.crash'),
    { actor: 'loop-0', actorType: 'bot' },
  );

  await daemon.call('task.submit', {
    type: 'hog',
    payload: { limitMb: 150, maxMb: 450, stepMb: 4 },
    maxAttempts: 1,
    timeoutMs: 60_000,
  });
  const killed = await first(
    { action: 'bot.memory_limit' },
    'the hog killed over its memory limit',
  );
  t.like(killed, { target: 'hog-0', actor: 'daemon', severity: 'warning' });
  t.regex(killed?.reason ?? '', /memory limit: RSS \d+ MB over 150 MB/);
  await waitFor(() => followed.some((e) => e.action === 'bot.memory_limit'), {
    what: 'tail -f to show it',
  });
  follower.cancel();
  await following;
  follower.close();

  // The CLI: a family filter, paging, stats, verify.
  const bots = await hive('audit', 'query', '--action', 'bot', '--limit', '3', '--json');
  t.is(bots.code, 0);
  const page = JSON.parse(bots.stdout) as { entries: AuditEntry[]; next: number };
  t.is(page.entries.length, 3);
  t.true(page.entries.every((e) => e.action.startsWith('bot.')));
  const older = JSON.parse(
    (
      await hive(
        'audit',
        'query',
        '--action',
        'bot',
        '--limit',
        '3',
        '--before',
        String(page.next),
        '--json',
      )
    ).stdout,
  ) as { entries: AuditEntry[] };
  t.true((older.entries[0]?.seq ?? Infinity) < page.next);
  const stats = JSON.parse((await hive('audit', 'stats', '--json')).stdout) as {
    byAction: Record<string, number>;
  };
  t.true((stats.byAction['bot.crash'] ?? 0) >= 3);
  const ok = await hive('audit', 'verify');
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /audit trail OK: \d+ entries/);

  // An export verifies on its own; a changed byte in it does not.
  const file = join(tempDir(t), 'export.jsonl');
  const exported = await hive('audit', 'export', '--since', '10m', '--out', file);
  t.is(exported.code, 0, exported.stderr);
  t.is((await hive('audit', 'verify', '--file', file)).code, 0);
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[3] = (lines[3] ?? '').replace('"severity":"info"', '"severity":"infO"');
  writeFileSync(file, lines.join('\n'));
  const bad = await hive('audit', 'verify', '--file', file);
  t.is(bad.code, 4);
  t.regex(bad.stdout, /FAILED .*changed: entry \d+ does not match its hash/);

  // Tampering with the live trail: verify exits 4 and names the entry.
  const live = join(daemon.stateDir, 'logs', 'audit-trail.jsonl');
  const trail = readFileSync(live, 'utf8').split('\n');
  const victim = JSON.parse(trail[5] ?? '{}') as { seq: number };
  trail[5] = (trail[5] ?? '').replace('"actorType":"', '"actorType":"x');
  writeFileSync(live, trail.join('\n'));
  const tampered = await hive('audit', 'verify', '--json');
  t.is(tampered.code, 4);
  t.like(JSON.parse(tampered.stdout), { ok: false, problem: { kind: 'changed', seq: victim.seq } });
});
