import { rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { AuditEntry } from '../../protocol/audit.ts';
import { HiveError } from '../../protocol/errors.ts';
import { echoBot, runHive, startDaemon, waitFor, waitForReadyBots } from '../helpers/daemon.ts';
import { fillUp, tinyFilesystem } from '../helpers/tmpfs.ts';

interface AuditStatus {
  audit: { sink: 'ok' | 'broken'; reason?: string; backlog: number };
}

async function timed(call: () => Promise<unknown>): Promise<{ ms: number; code?: string }> {
  const started = Date.now();
  try {
    await call();
    return { ms: Date.now() - started };
  } catch (error) {
    if (!(error instanceof HiveError)) throw error;
    return { ms: Date.now() - started, code: error.code };
  }
}

test('a full disk under the trail: mutating commands fail closed within a second, reads work, hived stays up, then it recovers', async (t) => {
  // A real filesystem that fills up (tmpfs). Without root the sink's failure
  // path is still covered by the injected write errors of trail.test.ts.
  const disk = tinyFilesystem(t, 256);
  if (!disk) {
    t.pass('no tmpfs here: covered by the injected I/O errors in trail.test.ts');
    return;
  }
  const daemon = await startDaemon(t, {
    config: {
      audit: { dir: join(disk, 'audit'), retryIntervalMs: 200 },
      bots: { echo: echoBot() },
    },
  });
  await waitForReadyBots(daemon, 1);
  const filler = fillUp(disk);

  // The live segment's last page may hold a few more entries: submit until the disk says no.
  let refused: { ms: number; code?: string } | undefined;
  for (let i = 0; i < 100 && !refused; i++) {
    const outcome = await timed(() => daemon.call('task.submit', { type: 'echo', payload: { i } }));
    t.true(outcome.ms < 1000, `submit ${i} answered in ${outcome.ms} ms`);
    if (outcome.code) refused = outcome;
  }
  t.is(refused?.code, 'HIVE_AUDIT_UNAVAILABLE');

  // From now on every mutating command is refused at once.
  const scale = await timed(() => daemon.call('bots.scale', { kind: 'echo', instances: 2 }));
  t.is(scale.code, 'HIVE_AUDIT_UNAVAILABLE');
  t.true(scale.ms < 1000, `refused in ${scale.ms} ms`);

  // Reads work, and say what is wrong.
  const status = (await daemon.call('status')) as AuditStatus;
  t.is(status.audit.sink, 'broken');
  t.regex(status.audit.reason ?? '', /ENOSPC/);
  t.truthy(await daemon.call('task.ls', { limit: 5 }));
  const cli = await runHive(['status', '--socket', daemon.socket]);
  t.is(cli.code, 0);
  t.regex(cli.stdout, /audit: BROKEN .*ENOSPC.*mutating commands are refused/);
  t.is(daemon.process.exitCode, null, 'hived is still running');

  rmSync(filler);
  await waitFor(async () => ((await daemon.call('status')) as AuditStatus).audit.sink === 'ok', {
    what: 'the sink to recover',
  });
  t.is((await timed(() => daemon.call('task.submit', { type: 'echo' }))).code, undefined);

  // What happened while broken is in the trail, in order, and the chain is whole.
  const query = async (action: string) =>
    ((await daemon.call('audit.query', { action, limit: 100 })) as { entries: AuditEntry[] })
      .entries;
  const [broken] = await query('audit.sink_broken');
  const [recovered] = await query('audit.sink_recovered');
  t.truthy(broken);
  t.truthy(recovered);
  t.regex(recovered?.reason ?? '', /writable again/);
  const refusals = (await query('command')).filter((e) => e.result === 'refused');
  t.true(
    refusals.some((e) => e.action === 'command.bots.scale' && e.error === 'HIVE_AUDIT_UNAVAILABLE'),
  );
  t.true(refusals.every((e) => e.seq > (broken?.seq ?? 0) && e.seq < (recovered?.seq ?? 0)));
  const verify = (await daemon.call('audit.verify')) as { ok: boolean; problem?: unknown };
  t.true(verify.ok, JSON.stringify(verify.problem));
});
