import test from 'ava';
import { z } from 'zod';
import {
  args,
  type Command,
  type CommandContext,
  CommandRouter,
  type Interceptor,
} from '../../daemon/ipc/router.ts';
import { HiveError } from '../../protocol/errors.ts';
import { rejection } from '../helpers/errors.ts';

function context(): CommandContext {
  return {
    actor: { user: 'tester', via: 'socket' },
    signal: new AbortController().signal,
    emit: () => {},
  };
}

function router(): { router: CommandRouter; calls: unknown[] } {
  const calls: unknown[] = [];
  const r = new CommandRouter();
  r.register({
    name: 'task.submit',
    summary: 'submit a task',
    mutating: true,
    args: args({
      type: z.string().min(1),
      priority: z.number().int().min(0).max(9).optional(),
      payload: z.unknown().optional(),
    }),
    handler(a) {
      calls.push(a);
      return { id: 't1', type: a.type, priority: a.priority ?? 5 };
    },
  });
  r.register({
    name: 'status',
    summary: 'daemon status',
    mutating: false,
    args: args({}),
    handler: () => ({ up: true }),
  });
  return { router: r, calls };
}

test('dispatch runs the handler with parsed arguments', async (t) => {
  const { router: r, calls } = router();
  t.deepEqual(await r.dispatch('task.submit', { type: 'echo', priority: 1 }, context()), {
    id: 't1',
    type: 'echo',
    priority: 1,
  });
  t.deepEqual(calls, [{ type: 'echo', priority: 1 }]);
  // Missing args (undefined or null) are an empty object.
  t.deepEqual(await r.dispatch('status', undefined, context()), { up: true });
  t.deepEqual(await r.dispatch('status', null, context()), { up: true });
});

test('an unknown command gets HIVE_IPC_UNKNOWN_COMMAND', async (t) => {
  const { router: r } = router();
  const error = await rejection(r.dispatch('task.explode', {}, context()));
  t.is(error.code, 'HIVE_IPC_UNKNOWN_COMMAND');
  t.regex(error.message, /unknown command "task\.explode"/);
  // Names are exact: no prototype keys, no case folding.
  t.is(
    (await rejection(r.dispatch('constructor', {}, context()))).code,
    'HIVE_IPC_UNKNOWN_COMMAND',
  );
  t.is((await rejection(r.dispatch('STATUS', {}, context()))).code, 'HIVE_IPC_UNKNOWN_COMMAND');
});

test('bad arguments get HIVE_IPC_BAD_ARGS naming the field; the handler never runs', async (t) => {
  const { router: r, calls } = router();
  const wrongType = await rejection(
    r.dispatch('task.submit', { type: 'echo', priority: 'high' }, context()),
  );
  t.is(wrongType.code, 'HIVE_IPC_BAD_ARGS');
  t.regex(wrongType.message, /^task\.submit: priority: /);
  t.deepEqual(
    (wrongType.details as { issues: { path: string }[] }).issues.map((i) => i.path),
    ['priority'],
  );

  const outOfRange = await rejection(
    r.dispatch('task.submit', { type: 'echo', priority: 12 }, context()),
  );
  t.regex(outOfRange.message, /priority: /);

  const missing = await rejection(r.dispatch('task.submit', {}, context()));
  t.is(missing.code, 'HIVE_IPC_BAD_ARGS');
  t.regex(missing.message, /type: /);

  const unknown = await rejection(
    r.dispatch('task.submit', { type: 'echo', colour: 'red' }, context()),
  );
  t.is(unknown.code, 'HIVE_IPC_BAD_ARGS');
  t.regex(unknown.message, /unknown argument colour/);

  const notObject = await rejection(r.dispatch('task.submit', 'echo', context()));
  t.is(notObject.code, 'HIVE_IPC_BAD_ARGS');

  // Several problems are all reported.
  const several = await rejection(r.dispatch('task.submit', { type: '', priority: -1 }, context()));
  t.regex(several.message, /type: .*; priority: /);
  t.deepEqual(calls, []);
  t.deepEqual(several.toWire().code, 'HIVE_IPC_BAD_ARGS');
});

test('interceptors run outermost first, around the handler, and see the parsed args', async (t) => {
  const { router: r } = router();
  const trace: string[] = [];
  const named =
    (name: string): Interceptor =>
    async (command, parsed, _ctx, next) => {
      trace.push(`${name}:before:${command.name}:${JSON.stringify(parsed)}`);
      const result = await next();
      trace.push(`${name}:after`);
      return result;
    };
  r.use(named('audit'));
  r.use(named('degraded'));
  const result = await r.dispatch('task.submit', { type: 'echo' }, context());
  t.deepEqual(result, { id: 't1', type: 'echo', priority: 5 });
  t.deepEqual(trace, [
    'audit:before:task.submit:{"type":"echo"}',
    'degraded:before:task.submit:{"type":"echo"}',
    'degraded:after',
    'audit:after',
  ]);
});

test('an interceptor can refuse a command or replace its result', async (t) => {
  const { router: r, calls } = router();
  const seen: string[] = [];
  r.use(async (command, _args, _ctx, next) => {
    seen.push(command.name);
    const result = await next();
    return { wrapped: result };
  });
  r.use(async (command, _args, _ctx, next) => {
    if (command.mutating) throw new HiveError('HIVE_DAEMON_STOPPING', 'refused');
    return next();
  });
  const refused = await rejection(r.dispatch('task.submit', { type: 'echo' }, context()));
  t.is(refused.code, 'HIVE_DAEMON_STOPPING');
  t.deepEqual(calls, [], 'the handler of a refused command never runs');
  t.deepEqual(await r.dispatch('status', {}, context()), { wrapped: { up: true } });
  t.deepEqual(seen, ['task.submit', 'status']);
  // Unknown commands and bad args are rejected before any interceptor.
  await rejection(r.dispatch('nope', {}, context()));
  await rejection(r.dispatch('status', { x: 1 }, context()));
  t.deepEqual(seen, ['task.submit', 'status']);
});

test('a handler error passes through unchanged; list and get describe the commands', async (t) => {
  const r = new CommandRouter();
  const failing: Command = {
    name: 'bots.restart',
    summary: 'restart a bot',
    mutating: true,
    args: args({ name: z.string() }),
    handler: () => {
      throw new HiveError('HIVE_BOT_NOT_FOUND', 'no bot named x');
    },
  };
  r.register(failing);
  r.register({
    name: 'a.first',
    summary: 'first',
    mutating: false,
    args: args({}),
    handler: () => 1,
  });
  const error = await rejection(r.dispatch('bots.restart', { name: 'x' }, context()));
  t.is(error.code, 'HIVE_BOT_NOT_FOUND');
  t.throws(() => r.register(failing), { message: /registered twice/ });
  t.deepEqual(r.list(), [
    { name: 'a.first', summary: 'first', mutating: false },
    { name: 'bots.restart', summary: 'restart a bot', mutating: true },
  ]);
  t.is(r.get('bots.restart')?.summary, 'restart a bot');
  t.is(r.get('missing'), undefined);
});

test('the handler receives the request context', async (t) => {
  const r = new CommandRouter();
  const events: unknown[] = [];
  const controller = new AbortController();
  r.register({
    name: 'logs.follow',
    summary: 'follow',
    mutating: false,
    args: args({}),
    handler: (_a, ctx) => {
      ctx.emit({ line: 1 });
      return { user: ctx.actor.user, aborted: ctx.signal.aborted };
    },
  });
  controller.abort();
  const result = await r.dispatch(
    'logs.follow',
    {},
    {
      actor: { user: 'alice' },
      signal: controller.signal,
      emit: (e) => events.push(e),
    },
  );
  t.deepEqual(result, { user: 'alice', aborted: true });
  t.deepEqual(events, [{ line: 1 }]);
});
