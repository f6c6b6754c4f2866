// pm2 ecosystem file for hived: `pm2 start ecosystem.config.js`.
//
// pm2 7 loads an ESM ecosystem file through require(esm), which only sees
// named exports: `export const apps`, not `export default` ("No script path").
//
// Everything here is evaluated by the `pm2` command in the operator's shell,
// so HIVE_STATE_DIR / HIVE_CONFIG / HIVE_SOCKET set there are passed on
// (`HIVE_STATE_DIR=/srv/hive pm2 start ecosystem.config.js`).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

// hived runs on the project's pinned Node 24 (devDependency `node`), whatever
// Node pm2 itself runs on. Without it (e.g. `npm ci --omit=dev`) pm2 uses its
// own Node; hived then refuses to start, in one line, if that Node is too old.
const pinnedNode = join(root, 'node_modules', '.bin', 'node');
const interpreter = existsSync(pinnedNode) ? pinnedNode : 'node';

// Default: ./state of the project, as with `npm start`. Relative paths in
// the variables are taken from the shell's working directory, as the hive
// client would.
const stateDir = process.env.HIVE_STATE_DIR
  ? resolve(process.env.HIVE_STATE_DIR)
  : join(root, 'state');

/** @type {Record<string, string>} */
const env = { HIVE_STATE_DIR: stateDir };
if (process.env.HIVE_CONFIG) env.HIVE_CONFIG = resolve(process.env.HIVE_CONFIG);
if (process.env.HIVE_SOCKET) env.HIVE_SOCKET = resolve(process.env.HIVE_SOCKET);

export const apps = [
  {
    name: 'hived',
    script: join(root, 'daemon', 'hived.js'),
    cwd: root,
    interpreter,
    // One daemon per state directory (hived holds a lock): never cluster mode,
    // never more than one instance.
    exec_mode: 'fork',
    instances: 1,
    env,

    // Readiness: hived calls process.send('ready') once its control socket
    // listens; pm2 shows it `launching` until then. Loading a large queue
    // journal on a slow machine can take a while: give it 30 s (pm2 marks the
    // app online after listen_timeout even without the message).
    wait_ready: true,
    listen_timeout: 30_000,

    // Stopping: pm2 sends SIGINT, hived drains running tasks for up to
    // daemon.drainTimeoutMs (10 s by default), stops its bots (shutdown,
    // SIGTERM, SIGKILL: up to 2 × bots.*.stopTimeoutMs, 3 s each by default),
    // persists the queue and writes run/shutdown.marker. pm2's default
    // kill_timeout (1.6 s) would SIGKILL it mid-drain. Raise this if you raise
    // the drain or bot stop timeouts.
    kill_timeout: 30_000,
    // Signal hived only, not its whole process tree: hived stops its bots
    // itself, in order (bots die with hived even on SIGKILL: PDEATHSIG).
    treekill: false,

    // Restarts: after a crash, with exponential backoff (200 ms growing to
    // 15 s, reset once it stays up); a daemon that keeps dying within
    // min_uptime is marked errored after max_restarts attempts.
    autorestart: true,
    exp_backoff_restart_delay: 200,
    min_uptime: 5_000,
    max_restarts: 10,
    // No stop_exit_codes: [0]. pm2 reports a death by signal (kill -9, the
    // OOM killer) as exit code 0, so that would also stop restarts after a
    // crash. Consequence: `hive stop` under pm2 is a restart; use `pm2 stop`.
    watch: false,

    // Logs: hived writes timestamped lines to stdout; pm2 appends them here
    // (pm2 creates the folder), next to hived's own logs/hived.log and the
    // per-part JSON-lines streams. `pm2 logs hived` tails these files.
    out_file: join(stateDir, 'logs', 'pm2-out.log'),
    error_file: join(stateDir, 'logs', 'pm2-error.log'),
    merge_logs: true,
    time: false,
  },
];
