import test from 'ava';
import type { ModeView } from '../../protocol/health.ts';
import {
  type DaemonHandle,
  echoBot,
  runHive,
  startDaemon,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { bot, errorCode, getTask, readLog, submit, waitFinal } from '../helpers/fleet.ts';

const config = {
  degradation: { intervalMs: 200, maintenance: { dispatchUrgent: true } },
  bots: { echo: echoBot() },
};

/** Submits a priority-0 task and waits for it: the dispatcher has run a pass over everything queued before it. */
async function passOver(daemon: DaemonHandle): Promise<void> {
  const { id } = await submit(daemon, 'echo', { priority: 0 });
  const task = await waitFinal(daemon, id);
  if (task.state !== 'done') throw new Error(`urgent task ${task.state}`);
}

async function states(daemon: DaemonHandle, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await getTask(daemon, id)).state));
}

test('manual maintenance: submissions are persisted and none dispatched (priority 0 excepted), across a restart; auto resumes and all complete', async (t) => {
  const first = await startDaemon(t, { config });
  await waitForReadyBots(first, 1, 'echo');
  const set = await runHive([
    'mode',
    'set',
    'maintenance',
    '--reason',
    'disk swap',
    '--socket',
    first.socket,
  ]);
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /mode: MAINTENANCE \(held by hand\)/);
  t.regex(set.stdout, /why: disk swap/);
  t.regex(set.stdout, /paused: scaleUp, backups, deployShift/);

  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await submit(first, 'echo', { payload: { i } })).id);
  await passOver(first);
  t.deepEqual(await states(first, ids), Array(5).fill('queued'));
  t.is((await bot(first, 'echo-0')).tasksDone, 1, 'only the urgent task reached the bot');

  t.is(
    await errorCode(first.call('bots.scale', { kind: 'echo', instances: 2 })),
    'HIVE_MODE_PAUSED',
  );
  await first.call('bots.scale', { kind: 'echo', instances: 2, force: true });
  await first.call('bots.scale', { kind: 'echo', instances: 1 });
  const recovery = (await first.call('recovery.status')) as { schedule: { paused?: string } };
  t.regex(recovery.schedule.paused ?? '', /MAINTENANCE \(disk swap\)/);

  first.kill('SIGTERM');
  t.is((await first.exited).code, 0);
  const second = await startDaemon(t, { stateDir: first.stateDir });
  await waitForReadyBots(second, 1, 'echo');
  const held = (await second.call('mode.get')) as ModeView;
  t.like(held, { mode: 'maintenance', auto: 'full' });
  t.like(held.manual, { mode: 'maintenance', reason: 'disk swap' });
  await passOver(second);
  t.deepEqual(await states(second, ids), Array(5).fill('queued'), 'still held after the restart');

  const auto = await runHive(['mode', 'auto', '--reason', 'swap done', '--socket', second.socket]);
  t.is(auto.code, 0, auto.stderr);
  t.regex(auto.stdout, /mode: FULL \(automatic\)/);
  for (const id of ids) t.is((await waitFinal(second, id)).state, 'done');

  const lines = readLog(second, 'degradation-events.jsonl').filter((l) => l.from !== undefined);
  t.deepEqual(
    lines.map((l) => `${l.from}->${l.to} by ${l.manual ? 'hand' : 'signals'}`),
    ['full->maintenance by hand', 'full->maintenance by hand', 'maintenance->full by hand'],
    'set, taken up again after the restart, auto',
  );
  t.like(lines[2], { reason: 'back to automatic (swap done)' });
});
