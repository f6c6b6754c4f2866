import test from 'ava';
import type { TopFrame } from '../../protocol/health.ts';
import { echoBot, runHive, startDaemon, waitFor, waitForReadyBots } from '../helpers/daemon.ts';

test('hive top: --once prints one frame (text or JSON); the stream sends a frame on a change, not on a poll', async (t) => {
  const daemon = await startDaemon(t, {
    // A long sample interval: a frame that follows a change within a second came from the event.
    config: { degradation: { intervalMs: 30_000 }, bots: { echo: echoBot({ instances: 2 }) } },
  });
  await waitForReadyBots(daemon, 2, 'echo');

  const text = await runHive(['top', '--once', '--socket', daemon.socket]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /mode FULL\s+health HEALTHY/);
  t.regex(text.stdout, /^BOT\s+KIND\s+STATE\s+PID\s+CPU\s+RSS\s+BUSY\s+DONE\s+RESTARTS$/m);
  t.regex(text.stdout, /^echo-0\s+echo\s+ready\s+\d+/m);
  t.regex(text.stdout, /^queue: queued 0 {2}running 0/m);
  t.regex(text.stdout, /alerts: none firing/);
  const json = await runHive(['top', '--once', '--json', '--socket', daemon.socket]);
  const frame = JSON.parse(json.stdout) as TopFrame;
  t.deepEqual(
    frame.bots.map((b) => b.name),
    ['echo-0', 'echo-1'],
  );
  t.true(frame.bots.every((b) => (b.rssBytes ?? 0) > 1e6 && b.pid !== null));
  t.is(frame.mode.mode, 'full');

  const connection = await daemon.connect();
  t.teardown(() => connection.close());
  const frames: TopFrame[] = [];
  const streaming = connection
    .request('top', {}, { onEvent: (f) => frames.push(f as TopFrame) })
    .catch(() => undefined);
  await waitFor(() => frames.length >= 1, { what: 'the first frame' });
  const setAt = Date.now();
  await daemon.call('mode.set', { mode: 'degraded', reason: 'top test' });
  const degraded = await waitFor(() => frames.find((f) => f.mode.mode === 'degraded'), {
    what: 'a frame in DEGRADED',
    timeoutMs: 5_000,
  });
  t.true(degraded.at - setAt < 2_000, `frame ${degraded.at - setAt} ms after the change`);
  t.like(degraded.mode, { manual: true, reason: 'top test' });
  await daemon.call('bots.restart', { name: 'echo-1' });
  await waitFor(
    () => frames.some((f) => f.bots.some((b) => b.name === 'echo-1' && b.restarts === 1)),
    {
      what: 'a frame with the restarted bot',
    },
  );
  t.true(frames.length < 20, `${frames.length} frames: changes, not a poll loop`);
  connection.cancel();
  await streaming;
});
