/**
 * hived under systemd (Type=notify), without systemd: the test owns the
 * notify socket (a Unix datagram socket through node-unix-socket) and plays
 * the service manager.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  echoBot,
  startDaemon,
  status,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';

type Dgram = typeof import('node-unix-socket');
const dgram: Dgram | undefined = await import('node-unix-socket').catch(() => undefined);
const needsDgram = dgram ? test : test.skip;
if (!dgram) console.warn('node-unix-socket is not installed here: systemd notify tests skipped');

interface Datagram {
  text: string;
  at: number;
  /** Whether the control socket file existed when the datagram arrived. */
  socketExisted: boolean;
}

interface NotifyListener {
  /** The value for NOTIFY_SOCKET. */
  address: string;
  messages: Datagram[];
  /** Datagrams that contain `KEY=VALUE` lines with this key. */
  with(key: string): Datagram[];
}

/** Binds a datagram socket the test owns; `@name` is an abstract socket, as systemd writes it. */
function listen(t: ExecutionContext, address: string, controlSocket: () => string): NotifyListener {
  if (!dgram) throw new Error('node-unix-socket missing');
  const socket = new dgram.DgramSocket();
  socket.bind(address.startsWith('@') ? `\0${address.slice(1)}` : address);
  const messages: Datagram[] = [];
  socket.on('data', (buf: Buffer) => {
    messages.push({
      text: buf.toString('utf8'),
      at: Date.now(),
      socketExisted: existsSync(controlSocket()),
    });
  });
  t.teardown(() => socket.close());
  return {
    address,
    messages,
    with: (key) => messages.filter((m) => m.text.split('\n').some((l) => l.startsWith(`${key}=`))),
  };
}

function fields(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}

/** NUL-separated KEY=VALUE pairs of a process's environment. */
function environOf(pid: number): Map<string, string> {
  return fields(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').join('\n'));
}

needsDgram(
  'READY=1 after the socket listens, WATCHDOG=1 keeps coming, STOPPING=1 on SIGTERM, bots never see NOTIFY_SOCKET',
  async (t) => {
    const dir = tempDir(t);
    const stateDir = join(dir, 'state');
    const controlSocket = join(stateDir, 'run', 'hived.sock');
    const notify = listen(t, join(dir, 'notify.sock'), () => controlSocket);

    // The helper returns once `status` answers; READY=1 may come before that.
    const daemon = await startDaemon(t, {
      stateDir,
      config: { bots: { echo: echoBot({ instances: 1 }) } },
      env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: '400000' },
    });
    const pid = daemon.process.pid!;

    const [ready] = await waitFor(
      () => (notify.with('READY').length > 0 ? notify.with('READY') : undefined),
      {
        what: 'READY=1',
      },
    );
    const readyFields = fields(ready!.text);
    t.is(readyFields.get('READY'), '1');
    t.true(ready!.socketExisted, 'READY=1 arrived before the control socket existed');
    t.regex(readyFields.get('STATUS') ?? '', /listening on .*hived\.sock/);
    t.is(readyFields.get('MAINPID'), String(pid));
    // Nothing but the listening socket can have produced READY: it answers.
    t.is((await status(daemon)).daemon.pid, pid);
    t.is(notify.with('STOPPING').length, 0);

    // WATCHDOG_USEC=400000: a keep-alive every 200 ms from the supervision loop.
    await waitFor(
      () => notify.messages.filter((m) => m.text === 'WATCHDOG=1' && m.at >= ready!.at).length >= 3,
      {
        what: 'three WATCHDOG=1 after READY=1',
      },
    );
    const beforeBots = notify.messages.filter((m) => m.text === 'WATCHDOG=1').length;

    // The bot must not inherit the daemon's NOTIFY_SOCKET (nor its watchdog).
    const s = await waitForReadyBots(daemon, 1, 'echo');
    const botPid = s.bots.find((b) => b.kind === 'echo')!.pid!;
    t.true(environOf(pid).has('NOTIFY_SOCKET'), 'hived itself should see NOTIFY_SOCKET');
    const botEnv = environOf(botPid);
    t.is(botEnv.get('HIVE_BOT_KIND'), 'echo', 'not the environment of the bot process');
    t.false(botEnv.has('NOTIFY_SOCKET'), 'the bot inherited NOTIFY_SOCKET');
    t.false(botEnv.has('WATCHDOG_USEC'), 'the bot inherited WATCHDOG_USEC');
    t.false(botEnv.has('WATCHDOG_PID'), 'the bot inherited WATCHDOG_PID');

    // Still petting the watchdog while bots run.
    await waitFor(
      () => notify.messages.filter((m) => m.text === 'WATCHDOG=1').length >= beforeBots + 2,
      {
        what: 'WATCHDOG=1 to keep arriving',
      },
    );

    // ExecReload= sends SIGHUP: hived must survive it.
    daemon.kill('SIGHUP');
    await waitFor(() => daemon.output().includes('SIGHUP'), { what: 'hived to note the SIGHUP' });
    t.is((await status(daemon)).daemon.pid, pid);
    t.is(notify.with('STOPPING').length, 0, 'SIGHUP stopped hived');

    daemon.kill('SIGTERM');
    const stopping = await waitFor(() => notify.with('STOPPING')[0], { what: 'STOPPING=1' });
    t.regex(fields(stopping.text).get('STATUS') ?? '', /stopping: received SIGTERM/);
    t.deepEqual(await daemon.exited, { code: 0, signal: null });
    t.is(notify.with('READY').length, 1, 'READY=1 sent more than once');
    t.true(existsSync(join(stateDir, 'run', 'shutdown.marker')));
  },
);

needsDgram(
  'an abstract NOTIFY_SOCKET (@name) works; without WATCHDOG_USEC no keep-alives',
  async (t) => {
    const dir = tempDir(t);
    const stateDir = join(dir, 'state');
    const address = `@hive-test-notify-${process.pid}-${Date.now()}`;
    const notify = listen(t, address, () => join(stateDir, 'run', 'hived.sock'));
    const daemon = await startDaemon(t, {
      stateDir,
      config: { bots: {} },
      env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '' },
    });
    const ready = await waitFor(() => notify.with('READY')[0], {
      what: 'READY=1 on the abstract socket',
    });
    t.true(ready.socketExisted);
    t.is(fields(ready.text).get('MAINPID'), String(daemon.process.pid));
    // The supervision loop runs (it updates STATUS= on its first tick) for a
    // few ticks: time enough for a watchdog keep-alive, were one due.
    await waitFor(
      () => notify.messages.some((m) => m.at > ready.at && m.text.startsWith('STATUS=')),
      {
        what: 'a STATUS= update from the supervision loop',
      },
    );
    await waitFor(async () => (await status(daemon)).daemon.uptimeMs > 1_000, {
      what: '1 s of uptime',
    });
    t.false(
      notify.messages.some((m) => m.text === 'WATCHDOG=1'),
      'WATCHDOG=1 sent without a watchdog',
    );
    daemon.kill('SIGTERM');
    await waitFor(() => notify.with('STOPPING')[0], { what: 'STOPPING=1' });
    t.is((await daemon.exited).code, 0);
  },
);
