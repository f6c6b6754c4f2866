import { z } from 'zod';
import { HiveError } from '../../protocol/errors.ts';
import type { Actor } from '../../protocol/wire.ts';
import { compareText } from '../core/values.ts';

/** What a command handler knows about the request it serves. */
export interface CommandContext {
  actor: Actor;
  /** Aborted when the client disconnects or cancels the request. */
  signal: AbortSignal;
  /** Sends one streamed event tied to this request (follow modes, progress). */
  emit(event: unknown): void;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds commands of every argument type
type AnySchema = z.ZodType<any, any>;

export interface Command<S extends AnySchema = AnySchema> {
  /** Dotted name on the wire: `task.submit`. */
  name: string;
  summary: string;
  /** Mutating commands change state: they are audited and refused when the audit sink is down. */
  mutating: boolean;
  args: S;
  handler(args: z.infer<S>, ctx: CommandContext): unknown;
}

/** Wraps every dispatch (audit, degraded-mode refusal), outermost first. */
export type Interceptor = (
  command: Command,
  args: unknown,
  ctx: CommandContext,
  next: () => Promise<unknown>,
) => Promise<unknown>;

export interface CommandInfo {
  name: string;
  summary: string;
  mutating: boolean;
}

/**
 * The one place commands are registered and dispatched; the socket server
 * and (later) the web server both call `dispatch`, so a command behaves the
 * same whichever way it arrives.
 */
export class CommandRouter {
  readonly #commands = new Map<string, Command>();
  readonly #interceptors: Interceptor[] = [];
  readonly #unknown: ((name: string) => HiveError | undefined) | undefined;

  /**
   * @param options.unknown explains a command this router lacks better than
   *   "unknown command" (safe mode registers no task commands, and says why).
   */
  constructor(options: { unknown?: (name: string) => HiveError | undefined } = {}) {
    this.#unknown = options.unknown;
  }

  register<S extends AnySchema>(command: Command<S>): void {
    if (this.#commands.has(command.name))
      throw new Error(`command ${command.name} registered twice`);
    this.#commands.set(command.name, command as unknown as Command);
  }

  use(interceptor: Interceptor): void {
    this.#interceptors.push(interceptor);
  }

  list(): CommandInfo[] {
    return [...this.#commands.values()]
      .map(({ name, summary, mutating }) => ({ name, summary, mutating }))
      .sort((a, b) => compareText(a.name, b.name));
  }

  get(name: string): Command | undefined {
    return this.#commands.get(name);
  }

  async dispatch(name: string, rawArgs: unknown, ctx: CommandContext): Promise<unknown> {
    const command = this.#commands.get(name);
    if (!command) {
      const explained = this.#unknown?.(name);
      if (explained) throw explained;
      throw new HiveError(
        'HIVE_IPC_UNKNOWN_COMMAND',
        `unknown command ${JSON.stringify(name)}; run hive help for the list`,
      );
    }
    const parsed = command.args.safeParse(rawArgs ?? {});
    if (!parsed.success) {
      throw new HiveError('HIVE_IPC_BAD_ARGS', `${name}: ${describeArgIssues(parsed.error)}`, {
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const args: unknown = parsed.data;
    let index = 0;
    const next = async (): Promise<unknown> => {
      const interceptor = this.#interceptors[index++];
      if (interceptor) return interceptor(command, args, ctx, next);
      return command.handler(args, ctx);
    };
    return next();
  }
}

function describeArgIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') return `unknown argument ${issue.keys.join(', ')}`;
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Shorthand for a command's argument object: unknown arguments are errors. */
export const args = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape);
