import { spawn } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import { AuditTrail } from '../../daemon/audit/trail.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import { verifyTrail } from '../../protocol/audit-verify.ts';
import {
  asTrailFiles,
  memoryLogger,
  TEST_KEY,
  trailFiles,
  trailOptions,
} from '../helpers/audit.ts';
import { ROOT, tempDir } from '../helpers/daemon.ts';

const WRITER = join(ROOT, 'test', 'fixtures', 'audit-writer.ts');

/** Runs the writer; resolves with the acknowledged entries and how it ended. */
function runWriter(
  args: string[],
  options: { killAfterFirstAckMs?: number } = {},
): Promise<{
  acked: { seq: number; hash: string }[];
  signal: NodeJS.Signals | null;
  code: number | null;
}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WRITER, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      // Killed a random moment after it started writing (its start-up time varies a lot).
      if (options.killAfterFirstAckMs !== undefined)
        timer ??= setTimeout(() => child.kill('SIGKILL'), options.killAfterFirstAckMs);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const acked = out
        .split('\n')
        .filter((l) => /^\d+ [0-9a-f]{64}$/.test(l))
        .map((l) => {
          const [seq, hash] = l.split(' ');
          return { seq: Number(seq), hash: hash as string };
        });
      resolve({ acked, signal, code });
    });
  });
}

async function verifyAfter(dir: string, last: { seq: number; hash: string } | undefined) {
  const anchor = new AuditTrail(trailOptions(dir), {
    clock: systemClock,
    log: memoryLogger(),
  }).anchor();
  return verifyTrail(asTrailFiles(trailFiles(dir)), {
    key: TEST_KEY,
    anchor: await anchor,
    ...(last ? { checkpoint: last } : {}),
  });
}

for (const step of [
  'rotate:sealed',
  'rotate:created',
  'retention:anchored',
  'retention:removed',
] as const) {
  test.serial(
    `kill -9 at ${step}: the next start repairs, every acknowledged entry survives, verify passes`,
    async (t) => {
      const dir = tempDir(t);
      // The fourth time: by then retention has old segments to remove.
      const crashed = await runWriter([dir, '200', step, '4']);
      t.is(crashed.signal, 'SIGKILL', 'the writer died at the step');
      const lastAcked = crashed.acked.at(-1);
      t.truthy(lastAcked);
      const between = await verifyAfter(dir, lastAcked);
      t.true(between.ok, `right after the kill: ${JSON.stringify(between.problem)}`);
      const resumed = await runWriter([dir, '20']);
      t.is(resumed.code, 0);
      // Entries can be durable without having been acknowledged yet (the batch was cut by the kill).
      t.true(
        (resumed.acked[0]?.seq ?? 0) > (lastAcked?.seq ?? 0),
        'numbering continues after them',
      );
      const report = await verifyAfter(dir, resumed.acked.at(-1));
      t.true(report.ok, JSON.stringify(report.problem));
      t.true((report.startsAt ?? 0) > 1, 'retention removed old segments and left an anchor');
      t.truthy(report.retention);
    },
  );
}

test('kill -9 at random moments while writing across many rotations: verify passes every time', async (t) => {
  const dir = tempDir(t);
  let last: { seq: number; hash: string } | undefined;
  for (let round = 0; round < 6; round++) {
    const run = await runWriter([dir, '100000'], {
      killAfterFirstAckMs: Math.floor(Math.random() * 150),
    });
    last = run.acked.at(-1) ?? last;
    const report = await verifyAfter(dir, last);
    t.true(report.ok, `round ${round}: ${JSON.stringify(report.problem)}`);
  }
  t.true((last?.seq ?? 0) > 50, `${last?.seq} entries written`);
});
