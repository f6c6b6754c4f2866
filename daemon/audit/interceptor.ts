import { HiveError } from '../../protocol/errors.ts';
import type { Actor } from '../../protocol/wire.ts';
import type { Clock } from '../core/clock.ts';
import type { Interceptor } from '../ipc/router.ts';
import type { ActorVerifier } from './actor.ts';
import { type Audit, type AuditActor, type AuditRecord, wireActor } from './audit.ts';

/** `daemon.stop` stays possible with a broken sink: stopping is how an operator fixes the disk. */
const ALWAYS_ALLOWED = new Set(['daemon.stop']);

function userActor(actor: Actor, verifier: ActorVerifier): AuditActor {
  if (actor.via === 'web') return webActor(actor);
  const check = verifier.check(actor);
  return {
    ...wireActor(actor),
    verified: check.verified,
    ...(check.note ? { verifyNote: check.note } : {}),
  };
}

/**
 * A dashboard user: no pid or uid to check; what proves them is the token
 * (always present on a mutating request, issue 10).
 */
function webActor(actor: Actor): AuditActor {
  return {
    name: actor.user,
    type: 'web',
    via: 'web',
    verified: actor.token === true,
    ...(actor.token ? {} : { verifyNote: 'no dashboard token (a read on loopback)' }),
  };
}

/** What a command acts on: its id, name or kind argument, else the id it answers with. */
function targetOf(args: unknown, result?: unknown): string | undefined {
  const a = (args ?? {}) as Record<string, unknown>;
  for (const key of ['id', 'name', 'kind']) if (typeof a[key] === 'string') return a[key];
  const r = (result ?? {}) as Record<string, unknown>;
  return typeof r.id === 'string' ? r.id : undefined;
}

function failure(error: unknown): Pick<AuditRecord, 'error' | 'reason'> {
  return error instanceof HiveError
    ? { error: error.code, reason: error.message }
    : { error: 'HIVE_DAEMON_INTERNAL', reason: String((error as Error)?.message ?? error) };
}

/**
 * Audits every control command. A mutating command gets a `pending` entry
 * that must be durable before it runs (so a crash mid-command still leaves
 * who, what and when), and its outcome before the answer goes out. While
 * the trail cannot be written, mutating commands are refused up front
 * (`failClosed`); read-only ones run and are recorded without waiting.
 */
export function auditInterceptor(audit: Audit, verifier: ActorVerifier, clock: Clock): Interceptor {
  const boot = clock.now().toString(36);
  let counter = 0;
  return async (command, args, ctx, next) => {
    const { mutating, name } = command;
    if (!mutating && !audit.options.readCommands) return next();
    const actor = userActor(ctx.actor, verifier);
    const action = `command.${name}` as const;
    const started = clock.now();
    const elapsed = () => clock.now() - started;
    if (!mutating) {
      const entry = { action, actor, args: args as Record<string, unknown> };
      try {
        const result = await next();
        audit.note({
          ...entry,
          result: 'ok',
          target: targetOf(args, result),
          durationMs: elapsed(),
        });
        return result;
      } catch (error) {
        const failed = { result: 'error', target: targetOf(args), ...failure(error) } as const;
        audit.note({ ...entry, ...failed, durationMs: elapsed() });
        throw error;
      }
    }
    const req = `${boot}.${++counter}`;
    const strict = audit.options.failClosed && !ALWAYS_ALLOWED.has(name);
    const refuse = () => {
      const reason = audit.status().reason ?? 'the write failed';
      audit.note({
        action,
        actor,
        req,
        result: 'refused',
        severity: 'warning',
        target: targetOf(args),
        error: 'HIVE_AUDIT_UNAVAILABLE',
        reason,
      });
      return new HiveError(
        'HIVE_AUDIT_UNAVAILABLE',
        `${name} refused: the audit trail cannot be written (${reason}); see hive status`,
      );
    };
    if (strict && !audit.writable) throw refuse();
    try {
      await audit.record({
        action,
        actor,
        req,
        result: 'pending',
        target: targetOf(args),
        args: args as Record<string, unknown>,
      });
    } catch {
      if (strict) throw refuse();
      // failClosed off: the command runs; its entry waits in the backlog.
    }
    try {
      const result = await next();
      // Failing here changes nothing the command did; the outcome waits in the backlog.
      await audit
        .record({
          action,
          actor,
          req,
          result: 'ok',
          target: targetOf(args, result),
          durationMs: elapsed(),
        })
        .catch(() => {});
      return result;
    } catch (error) {
      await audit
        .record({
          action,
          actor,
          req,
          result: 'error',
          target: targetOf(args),
          ...failure(error),
          durationMs: elapsed(),
        })
        .catch(() => {});
      throw error;
    }
  };
}
