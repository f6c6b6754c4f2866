import { type CliCommand, defined, Exit, intOption, jsonOption, stringOption } from '../command.ts';
import { ago, fields, inline, table, time } from '../format.ts';

interface TaskOutcome {
  id: string;
  state: string;
  result?: unknown;
  error?: { reason: string; message: string };
  created?: boolean;
  timedOut?: boolean;
}

interface TaskView extends TaskOutcome {
  type: string;
  attempts: number;
  maxAttempts: number;
  priority: number;
  key?: string;
  bot?: string;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  history: {
    bot: string;
    startedAt: number;
    endedAt?: number;
    outcome?: string;
    error?: string;
    /** The deployment pool and version that ran it (issue 8). */
    release?: { pool: string; version: string };
  }[];
}

function renderOutcome(result: unknown): string {
  const r = result as TaskOutcome;
  if (r.timedOut) return `${r.id} still ${r.state} (stopped waiting)`;
  if (r.state === 'done') return `${r.id} done: ${inline(r.result, 2000)}`;
  if (r.error) return `${r.id} ${r.state}: ${r.error.message} (${r.error.reason})`;
  return `${r.id} ${r.state}${r.created === false ? ' (existing task for this key)' : ''}`;
}

function outcomeExit(result: unknown): number {
  const r = result as TaskOutcome;
  if (r.timedOut) return Exit.Timeout;
  return ['failed', 'dead', 'cancelled'].includes(r.state) ? Exit.Error : Exit.Ok;
}

export const taskCommands: CliCommand[] = [
  {
    words: ['task', 'submit'],
    args: 'TYPE',
    summary: 'Submit a task (acknowledged once it is on disk)',
    positionals: [1, 1],
    options: {
      payload: { type: 'string', arg: 'JSON', help: 'task payload as JSON' },
      priority: { type: 'string', arg: 'N', help: '0 (most urgent) to 9; default 5' },
      key: {
        type: 'string',
        arg: 'K',
        help: 'idempotency key: the same key returns the same task',
      },
      timeout: { type: 'string', arg: 'MS', help: 'task timeout in ms (lease expiry)' },
      attempts: { type: 'string', arg: 'N', help: 'maximum attempts' },
      wait: { type: 'boolean', help: 'wait for the final state and print the result' },
      'wait-timeout': { type: 'string', arg: 'MS', help: 'stop waiting after MS (exit 3)' },
    },
    request: (v, p) => ({
      cmd: 'task.submit',
      args: defined({
        type: p[0],
        payload: jsonOption(v, 'payload'),
        priority: intOption(v, 'priority'),
        key: stringOption(v, 'key'),
        timeoutMs: intOption(v, 'timeout', 1),
        maxAttempts: intOption(v, 'attempts', 1),
        wait: v.wait === true ? true : undefined,
        waitTimeoutMs: intOption(v, 'wait-timeout', 1),
      }),
    }),
    waits: (v) => v.wait === true,
    render: renderOutcome,
    exitCode: outcomeExit,
  },
  {
    words: ['task', 'get'],
    args: 'ID',
    summary: 'Show one task and its attempts',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'task.get', args: { id: p[0] } }),
    render(result) {
      const t = result as TaskView;
      const head = fields([
        ['id', t.id],
        ['type', t.type],
        ['state', t.state],
        ['priority', String(t.priority)],
        ['attempts', `${t.attempts} of ${t.maxAttempts}`],
        ['key', t.key],
        ['bot', t.bot],
        ['created', `${time(t.createdAt)} (${ago(t.createdAt)})`],
        ['finished', t.finishedAt === undefined ? undefined : time(t.finishedAt)],
        ['result', t.state === 'done' ? inline(t.result, 2000) : undefined],
        ['error', t.error ? `${t.error.message} (${t.error.reason})` : undefined],
      ]);
      if (t.history.length === 0) return head;
      const rows = t.history.map((a, i) => [
        i + 1,
        a.release ? `${a.bot} (${a.release.pool} ${a.release.version})` : a.bot,
        time(a.startedAt),
        a.endedAt === undefined ? 'running' : `${a.endedAt - a.startedAt}ms`,
        a.outcome ?? '-',
        a.error ?? '',
      ]);
      return `${head}\n\n${table(['#', 'BOT', 'STARTED', 'TOOK', 'OUTCOME', 'ERROR'], rows)}`;
    },
  },
  {
    words: ['task', 'wait'],
    args: 'ID',
    summary: 'Wait until a task is final',
    positionals: [1, 1],
    options: { timeout: { type: 'string', arg: 'MS', help: 'stop waiting after MS (exit 3)' } },
    request: (v, p) => ({
      cmd: 'task.wait',
      args: defined({ id: p[0], timeoutMs: intOption(v, 'timeout', 1) }),
    }),
    render: renderOutcome,
    exitCode: outcomeExit,
  },
  {
    words: ['task', 'ls'],
    summary: 'List tasks, newest first',
    options: {
      state: { type: 'string', arg: 'S', help: 'queued, running, done, failed, dead or cancelled' },
      type: { type: 'string', arg: 'T', help: 'only this task type' },
      limit: { type: 'string', arg: 'N', help: 'at most N tasks (default 20)' },
    },
    request: (v) => ({
      cmd: 'task.ls',
      args: defined({
        state: stringOption(v, 'state'),
        type: stringOption(v, 'type'),
        limit: intOption(v, 'limit', 1),
      }),
    }),
    render(result) {
      const { tasks } = result as { tasks: (TaskView & { error?: { message: string } })[] };
      if (tasks.length === 0) return 'no tasks';
      return table(
        ['ID', 'TYPE', 'STATE', 'PRIO', 'ATTEMPTS', 'AGE', 'BOT / ERROR'],
        tasks.map((t) => [
          t.id,
          t.type,
          t.state,
          t.priority,
          t.attempts,
          ago(t.createdAt),
          t.bot ?? t.error?.message ?? '',
        ]),
      );
    },
  },
  {
    words: ['task', 'cancel'],
    args: 'ID',
    summary: 'Cancel a queued or running task',
    positionals: [1, 1],
    options: { reason: { type: 'string', arg: 'R', help: 'why (kept with the task)' } },
    request: (v, p) => ({
      cmd: 'task.cancel',
      args: defined({ id: p[0], reason: stringOption(v, 'reason') }),
    }),
    render: (r) => `${(r as TaskOutcome).id} ${(r as TaskOutcome).state}`,
  },
  {
    words: ['task', 'retry'],
    args: 'ID',
    summary: 'Send a dead or failed task back to the queue with fresh attempts',
    positionals: [1, 1],
    request: (_v, p) => ({ cmd: 'task.retry', args: { id: p[0] } }),
    render: (r) => `${(r as TaskOutcome).id} ${(r as TaskOutcome).state}`,
  },
];
