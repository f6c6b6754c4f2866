import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { MacKey } from '../../protocol/audit-chain.ts';
import { verifyTrail } from '../../protocol/audit-verify.ts';
import { HiveError } from '../../protocol/errors.ts';
import { asTrailFiles, trailEntries, trailFiles } from '../helpers/audit.ts';
import {
  echoBot,
  fixtureBot,
  resolvePath,
  startDaemon,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/daemon.ts';
import { RawClient } from '../helpers/raw-socket.ts';

const SECRET = 'open-sesame-1234';
const PASSWORD = 'hunter2-hunter2';

test('every control command is in the trail with who sent it, mutating ones before and after; secrets never in clear', async (t) => {
  const dir = tempDir(t);
  const keyFile = join(dir, 'audit.key');
  writeFileSync(keyFile, 'a-test-key-of-at-least-16-bytes\n', { mode: 0o600 });
  const config = {
    audit: { keyFile, secretEnv: ['HIVE_AUDIT_TEST_SECRET'] },
    supervision: { tickMs: 50 },
    queue: { leaseGraceMs: 0 },
    bots: {
      echo: echoBot({ instances: 2 }),
      hang: fixtureBot('hang.ts', { taskTimeoutMs: 200 }),
    },
  };
  const daemon = await startDaemon(t, { env: { HIVE_AUDIT_TEST_SECRET: SECRET }, config });
  const call = (cmd: string, args: Record<string, unknown> = {}) =>
    daemon.call(cmd, args).catch((error: unknown) => {
      if (error instanceof HiveError) return { error: error.code };
      throw error;
    });
  const done = (await call('task.submit', {
    type: 'echo',
    payload: { password: PASSWORD, note: SECRET },
    wait: true,
  })) as { id: string };
  const { id: hung } = (await call('task.submit', { type: 'hang', maxAttempts: 1 })) as {
    id: string;
  };
  await waitFor(
    async () => ((await call('task.get', { id: hung })) as { state: string }).state === 'dead',
    {
      what: 'the hanging task to be dead-lettered',
    },
  );

  // One call of each command, with arguments that make sense for it. A command
  // added without a line here fails the test: its audit coverage is then untested.
  // Functions: arguments that need what an earlier call answered (a backup's id).
  const made: Record<string, string> = {};
  const samples: Record<string, Record<string, unknown> | (() => Record<string, unknown>)> = {
    status: {},
    commands: {},
    'task.submit': { type: 'echo', key: 'idem-1', payload: { x: 1 } },
    'task.get': { id: done.id },
    'task.wait': { id: done.id, timeoutMs: 1000 },
    'task.ls': { limit: 5 },
    'task.retry': { id: hung },
    'task.cancel': { id: hung, reason: `stop it, ${SECRET}` },
    // echo has no message handler: the message becomes a dead letter (rejected), requeued below.
    'msg.send': { to: 'echo', body: { password: PASSWORD, note: SECRET }, priority: 0 },
    'msg.get': () => ({ id: made['msg.send'] }),
    'msg.ls': { limit: 5 },
    'msg.dead': {},
    'msg.stats': {},
    'sched.stats': {},
    // A bot's environment is kept by name only: the value under a plain name is a secret here.
    'deploy.start': {
      kind: 'echo',
      command: resolvePath('bots', 'echo.ts'),
      env: { DB_URL: `postgres://app:${PASSWORD}@db/app` },
    },
    'deploy.status': {},
    'deploy.pause': { kind: 'echo', reason: 'the audit test holds it' },
    'deploy.resume': { kind: 'echo' },
    'deploy.promote': { kind: 'echo' },
    'deploy.abort': { kind: 'echo', reason: 'the audit test ends it' },
    'deploy.history': { kind: 'echo' },
    'deploy.retry': { kind: 'echo' },
    'bots.ls': {},
    'bots.restart': { name: 'echo-1' },
    'bots.scale': { kind: 'echo', instances: 1 },
    'logs.tail': { lines: 1 },
    'config.show': {},
    'config.get': { key: 'queue.maxQueued' },
    'config.status': {},
    'config.reload': {},
    'audit.query': { limit: 1 },
    'audit.tail': { lines: 1 },
    'audit.verify': {},
    'audit.stats': {},
    'audit.export': { since: '1h' },
    'backup.create': { kind: 'full', tag: 'audit-test' },
    'backup.ls': {},
    'backup.show': () => ({ id: made['backup.create'] }),
    'backup.verify': () => ({ id: made['backup.create'] }),
    'backup.restore-plan': () => ({ id: made['backup.create'] }),
    'backup.restore': () => ({ id: made['backup.create'] }),
    'backup.prune': { dryRun: true },
    'restore-point.create': { description: 'before the audit test ends', name: 'rp-audit' },
    'restore-point.ls': {},
    'restore-point.show': () => ({ id: made['restore-point.create'] }),
    'recovery.status': {},
    'mode.get': {},
    'mode.set': { mode: 'degraded', reason: 'the audit test holds it' },
    'mode.auto': {},
    'health.get': {},
    'alerts.ls': { all: true },
    top: { once: true },
    'msg.requeue': () => ({ id: made['msg.send'] }),
    'web.token': {},
    'daemon.stop': {},
  };
  const { commands } = (await call('commands')) as {
    commands: { name: string; mutating: boolean }[];
  };
  const untested = commands.filter((c) => !(c.name in samples)).map((c) => c.name);
  t.deepEqual(untested, [], 'commands without a sample call below');
  // In the order above (retry, then cancel the retried task), not the list's.
  for (const [name, args] of Object.entries(samples)) {
    // The reload takes a changed audit key live: from now on `type` arguments are digests.
    if (name === 'config.reload')
      writeConfig(daemon.stateDir, {
        ...config,
        audit: { ...config.audit, redactFields: ['type'] },
      });
    if (name === 'daemon.stop') continue;
    const answer = (await call(name, typeof args === 'function' ? args() : args)) as {
      id?: string;
    };
    if (typeof answer?.id === 'string') made[name] = answer.id;
  }
  await call('task.submit', { type: 'echo' });

  // A client that lies about itself is recorded, marked unverified.
  const liar = await RawClient.open(daemon.socket);
  t.teardown(() => liar.destroy());
  const forged = {
    type: 'request',
    data: { id: 1, cmd: 'status', actor: { user: 'mallory', uid: 4242, pid: 1 } },
  };
  await liar.write(`${JSON.stringify(forged)}\f`);
  await liar.next();

  await call('daemon.stop');
  await daemon.exited;

  const logs = join(daemon.stateDir, 'logs');
  const entries = trailEntries(logs);
  const me = {
    actor: userInfo().username,
    uid: process.getuid?.(),
    pid: process.pid,
    verified: true,
    via: 'socket',
  };
  for (const command of commands) {
    const mine = entries.filter(
      (e) => e.action === `command.${command.name}` && e.pid === process.pid,
    );
    t.true(mine.length > 0, `${command.name} is in the trail`);
    for (const e of mine) t.like(e, me, `${command.name} names its sender`);
    if (command.mutating) {
      const pending = mine.find((e) => e.result === 'pending');
      const outcome = mine.find((e) => e.result !== 'pending' && e.req === pending?.req);
      t.truthy(pending?.args, `${command.name}: its arguments come before it runs`);
      t.truthy(outcome, `${command.name}: its outcome is tied to it`);
      t.true((outcome?.seq ?? 0) > (pending?.seq ?? 0));
    }
  }
  const lie = entries.find((e) => e.actor === 'mallory');
  t.like(lie, { action: 'command.status', uid: 4242, pid: 1, verified: false });
  t.regex(lie?.verifyNote ?? '', /runs as uid|no process/);

  // Domain events carry who and why.
  const byTask = (action: string) => entries.find((e) => e.action === action && e.target === hung);
  t.like(byTask('task.dead_letter'), { actor: 'daemon', severity: 'warning' });
  t.like(byTask('task.retry'), { actor: me.actor, actorType: 'user' });
  t.like(byTask('task.cancel'), {
    actor: me.actor,
    reason: 'stop it, [redacted:HIVE_AUDIT_TEST_SECRET]',
  });
  t.truthy(entries.find((e) => e.action === 'bot.restart' && e.target === 'echo-1'));
  t.truthy(entries.find((e) => e.action === 'bot.stop' && e.target === 'echo-1'));
  t.truthy(entries.find((e) => e.action === 'daemon.stop'));
  const message = made['msg.send'];
  t.like(
    entries.find((e) => e.action === 'message.dead_letter' && e.target === message),
    { actor: 'daemon', severity: 'warning', details: { reason: 'rejected', priority: 0 } },
  );
  t.like(
    entries.find((e) => e.action === 'message.requeue' && e.target === message),
    { actor: me.actor, actorType: 'user' },
  );
  const sent = entries.find((e) => e.action === 'command.msg.send' && e.result === 'pending');
  t.regex(JSON.stringify(sent?.args?.body), /"digest":"\[redacted hmac:[0-9a-f]{16}\]"/);
  const backup = made['backup.create'];
  t.like(
    entries.find((e) => e.action === 'backup.created' && e.target === backup),
    {
      actor: me.actor,
    },
  );
  t.like(
    entries.find((e) => e.action === 'backup.restore_started' && e.target === backup),
    {
      actor: me.actor,
    },
  );
  t.like(
    entries.find((e) => e.action === 'backup.restored' && e.target === backup),
    {
      actor: me.actor,
      severity: 'warning',
    },
  );
  t.like(
    entries.find((e) => e.action === 'backup.verified' && e.target === backup),
    {
      severity: 'info',
    },
  );
  t.like(
    entries.find((e) => e.action === 'config.applied' && e.details?.trigger === 'command'),
    { actor: me.actor, actorType: 'user' },
  );

  // Secrets: the payload and secret-named arguments are digests; the env secret is cut out.
  const raw = trailFiles(logs)
    .map((f) => f.data.toString('utf8'))
    .join('');
  t.false(raw.includes(PASSWORD), 'the password is not in the trail');
  t.false(raw.includes(SECRET), 'the secret env value is not in the trail');
  const submit = entries.find(
    (e) => e.action === 'command.task.submit' && e.args?.key === undefined,
  );
  t.regex(JSON.stringify(submit?.args?.payload), /"digest":"\[redacted hmac:[0-9a-f]{16}\]"/);
  const idem = entries.find((e) => e.action === 'command.task.submit' && e.args?.key !== undefined);
  t.regex(String(idem?.args?.key), /^\[redacted hmac:[0-9a-f]{16}\]$/);

  const applied = entries.find(
    (e) =>
      e.action === 'config.applied' &&
      e.details?.changes !== undefined &&
      'audit.redactFields' in (e.details.changes as object),
  );
  t.truthy(applied, 'the reload is in the trail with the key it changed');
  const submits = entries.filter(
    (e) => e.action === 'command.task.submit' && e.result === 'pending',
  );
  t.is(submits[0]?.args?.type, 'echo');
  t.regex(String(submits.at(-1)?.args?.type), /^\[redacted hmac:/, 'applied without a restart');

  const report = await verifyTrail(asTrailFiles(trailFiles(logs)), {
    key: MacKey.fromSecret(Buffer.from('a-test-key-of-at-least-16-bytes')),
  });
  t.true(report.ok, JSON.stringify(report.problem));
  t.is(report.macs, 'checked');
});
