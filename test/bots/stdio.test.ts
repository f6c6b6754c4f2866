import test from 'ava';
import {
  fixtureBot,
  hasPython,
  pythonBot,
  startDaemon,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { alive, bot, readLog, submit, waitFinal } from '../helpers/fleet.ts';

const pythonTest = hasPython() ? test : test.skip;

const fastHeartbeats = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 700, stopTimeoutMs: 3_000 };

pythonTest(
  `a python3 bot speaks JSON lines on stdin/stdout end to end${hasPython() ? '' : ' (skipped: python3 not found on PATH)'}`,
  async (t) => {
    const daemon = await startDaemon(t, {
      config: {
        bots: {
          py: pythonBot(fastHeartbeats),
        },
      },
    });
    await waitForReadyBots(daemon, 1, 'py');
    const view = (await daemon.call('bots.ls', {})) as {
      bots: { name: string; transport: string; version?: string; pid: number }[];
    };
    t.like(view.bots[0], { name: 'py-0', transport: 'stdio', version: 'py-1' });
    const pid = view.bots[0]?.pid as number;

    const ok = await waitFinal(
      daemon,
      (await submit(daemon, 'upper', { payload: { text: 'hello brave world' } })).id,
    );
    t.is(ok.state, 'done');
    t.deepEqual(ok.result, { upper: 'HELLO BRAVE WORLD', words: 3, bot: 'py-0', python: true });

    const bad = await waitFinal(daemon, (await submit(daemon, 'upper', { payload: 42 })).id);
    t.is(bad.state, 'failed');
    t.is(bad.attempts, 1, 'retryable: false in the result means no retry');
    t.regex(bad.error?.message ?? '', /payload needs text/);

    // Its heartbeats arrive over stdout: still the same process after twice the heartbeat timeout.
    await new Promise((r) => setTimeout(r, 2 * fastHeartbeats.heartbeatTimeoutMs));
    t.like(await bot(daemon, 'py-0'), { state: 'ready', restarts: 0, pid });

    // Plain prints on stdout are kept as output, not taken for protocol.
    const printed = await waitFor(() =>
      readLog(daemon, 'bots.jsonl').find((l) => String(l.text).includes('python bot starting')),
    );
    t.is(printed.stream, 'stdout');

    // The shutdown message goes down stdin: it exits well before SIGTERM would be sent.
    const started = Date.now();
    await daemon.call('bots.scale', { kind: 'py', instances: 0 });
    t.true(Date.now() - started < fastHeartbeats.stopTimeoutMs, 'stopped by the shutdown message');
    t.false(alive(pid));
  },
);

test('a Node bot forced to transport stdio works end to end', async (t) => {
  const daemon = await startDaemon(t, {
    config: {
      bots: { nodestdio: fixtureBot('slow.ts', { transport: 'stdio', ...fastHeartbeats }) },
    },
  });
  const ready = await waitForReadyBots(daemon, 1, 'nodestdio');
  const pid = ready.bots[0]?.pid as number;
  const view = (await daemon.call('bots.ls', {})) as { bots: { transport: string }[] };
  t.is(view.bots[0]?.transport, 'stdio');

  const ids = await Promise.all(
    [1, 2, 3].map(
      async (n) => (await submit(daemon, 'nodestdio', { payload: { n, noise: true } })).id,
    ),
  );
  for (const id of ids) {
    const task = await waitFinal(daemon, id);
    t.is(task.state, 'done');
    t.like(task.result, { bot: 'nodestdio-0', ipc: false, pid });
  }
  // console.log went to stderr, so stdout stayed pure protocol.
  const noise = await waitFor(() =>
    readLog(daemon, 'bots.jsonl').find((l) => String(l.text).includes('stray console.log output')),
  );
  t.is(noise.stream, 'stderr');

  await new Promise((r) => setTimeout(r, 2 * fastHeartbeats.heartbeatTimeoutMs));
  t.like(await bot(daemon, 'nodestdio-0'), { state: 'ready', restarts: 0, pid });

  const started = Date.now();
  await daemon.call('bots.scale', { kind: 'nodestdio', instances: 0 });
  t.true(Date.now() - started < fastHeartbeats.stopTimeoutMs, 'stopped by the shutdown message');
  t.false(alive(pid));
});
