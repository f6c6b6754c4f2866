import test from 'ava';
import { echoBot, runHive, startDaemon, waitForReadyBots } from '../helpers/daemon.ts';

test('submits a task through the CLI and waits for its result', async (t) => {
  const daemon = await startDaemon(t, { config: { bots: { echo: echoBot({ instances: 2 }) } } });
  await waitForReadyBots(daemon, 2);
  const run = await runHive([
    'task',
    'submit',
    'echo',
    '--payload',
    '{"x":1}',
    '--wait',
    '--json',
    '--socket',
    daemon.socket,
  ]);
  t.is(run.code, 0, run.stderr);
  const answer = JSON.parse(run.stdout) as { id: string; state: string; result: { echo: unknown } };
  t.is(answer.state, 'done');
  t.deepEqual(answer.result.echo, { x: 1 });
});
