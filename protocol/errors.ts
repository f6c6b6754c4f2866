/**
 * The error catalogue shared by the daemon, the client and the web page.
 *
 * Every error that crosses the control socket carries one of these codes;
 * clients branch on the code, never on the message text. Codes are
 * `HIVE_<PART>_<WHAT>`, never renamed and never reused once retired.
 * `test/protocol/errors.test.ts` checks that each key equals its code and that
 * each code is documented in ERRORS.md.
 */
export const ERROR_CODES = {
  HIVE_IPC_MALFORMED_FRAME: 'A frame was not valid JSON or not a JSON object.',
  HIVE_IPC_FRAME_TOO_LARGE: 'A frame exceeded the configured maximum frame size.',
  HIVE_IPC_BAD_REQUEST: 'A request envelope lacked an id or a command name.',
  HIVE_IPC_UNKNOWN_COMMAND: 'The command is not known to this daemon.',
  HIVE_IPC_BAD_ARGS: 'The command arguments did not match the command schema.',
  HIVE_IPC_UNREACHABLE: 'The client could not reach the daemon socket.',
  HIVE_IPC_CLOSED: 'The connection closed before the daemon answered.',
  HIVE_IPC_TIMEOUT: 'The daemon did not answer within the client timeout.',
  HIVE_IPC_CANCELLED: 'The request was cancelled by the client.',
  HIVE_DAEMON_STOPPING: 'The daemon is shutting down and accepts no new work.',
  HIVE_DAEMON_LOCKED: 'Another daemon already owns this state directory.',
  HIVE_DAEMON_INTERNAL: 'An unexpected internal error; the daemon logged the details.',
  HIVE_DAEMON_NODE_TOO_OLD: 'The running Node.js is older than the minimum hive supports.',
  HIVE_CONFIG_INVALID: 'A configuration file failed to parse or validate.',
  HIVE_CONFIG_UNREADABLE: 'A configuration file could not be read.',
  HIVE_CONFIG_KEY_NOT_FOUND: 'No configuration key has that path.',
  HIVE_STORE_WRITE_FAILED:
    'A state write failed (for example a full disk); nothing was acknowledged.',
  HIVE_STORE_CORRUPT: 'A state file is unreadable or fails its checksum.',
  HIVE_STORE_SUSPENDED: 'State writes are paused while a restore replaces the state files.',
  HIVE_TASK_NOT_FOUND: 'No task has that id (it may have been pruned after its retention).',
  HIVE_TASK_UNKNOWN_TYPE: 'No configured bot kind handles that task type.',
  HIVE_TASK_ALREADY_FINAL: 'The task already reached a final state.',
  HIVE_TASK_KEY_CONFLICT: 'The idempotency key already names a task of another type.',
  HIVE_TASK_QUEUE_FULL: 'The queue holds its configured maximum of unfinished tasks.',
  HIVE_TASK_NOT_RETRYABLE: 'Only a dead or failed task can be retried.',
  HIVE_BOT_NOT_FOUND: 'No bot has that name.',
  HIVE_BOT_KIND_NOT_FOUND: 'No bot kind has that name.',
  HIVE_WEB_TOKEN_REQUIRED:
    'The web request carried no valid dashboard token (hive web url prints a login link).',
  HIVE_WEB_BAD_ORIGIN: 'A web request came from another origin or named an unexpected host.',
  HIVE_WEB_BAD_REQUEST: 'A web request body was not the JSON the endpoint expects.',
  HIVE_MSG_NOT_FOUND: 'No message has that id (it may have been pruned after its retention).',
  HIVE_MSG_NO_RECIPIENT: 'No bot, bot kind or subscribed topic has that name.',
  HIVE_MSG_INBOX_FULL:
    'The receiving inbox is full of messages at least as urgent as this one; nothing was evicted.',
  HIVE_MSG_TOO_LARGE: 'The message body is larger than messaging.maxBodyBytes.',
  HIVE_MSG_TTL_TOO_LONG: 'The message asks for a TTL above messaging.maxTtlMs.',
  HIVE_MSG_NOT_REQUEUABLE: 'Only a dead or expired message can be requeued.',
  HIVE_MSG_REPLY_TIMEOUT: 'No reply came within the wait (the message itself was sent).',
  HIVE_AUDIT_UNAVAILABLE:
    'The audit trail cannot be written; mutating commands are refused until it can.',
  HIVE_BACKUP_NOT_FOUND: 'No backup or restore point has that id.',
  HIVE_BACKUP_CORRUPT: 'A backup file is missing or its bytes do not match its SHA-256.',
  HIVE_BACKUP_INVALID: 'A backup is readable but its content breaks an invariant of the state.',
  HIVE_BACKUP_NOT_RESTORABLE: 'That backup kind cannot be restored on its own.',
  HIVE_BACKUP_WRITE_FAILED: 'A backup could not be written (for example a full disk).',
  HIVE_RECOVERY_RESTORING:
    'A restore is replacing the state; state-changing commands are refused meanwhile.',
  HIVE_RECOVERY_SAFE_MODE:
    'hived runs in safe mode (its state could not be loaded); nothing is dispatched.',
  HIVE_MODE_SHED:
    'hived is DEGRADED and refused a low-priority submission to shed load; retry after details.retryAfterMs.',
  HIVE_MODE_PAUSED:
    'The work is optional and paused in the current mode (DEGRADED or MAINTENANCE).',
  HIVE_DEPLOY_NOT_FOUND: 'The bot kind has no deployment under way (or none to retry).',
  HIVE_DEPLOY_BAD_STATE: 'The deployment is in a state where that action cannot apply.',
  HIVE_DEPLOY_INVALID: "The deployment's command cannot run (missing, not executable).",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The error shape on the wire: `{ code, message }` plus optional details. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** Base class of every error hive raises on purpose. */
export class HiveError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'HiveError';
    this.code = code;
    this.details = details;
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Turns anything thrown into a wire error; unknown errors become HIVE_DAEMON_INTERNAL. */
export function toWireError(error: unknown): WireError {
  if (error instanceof HiveError) return error.toWire();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'HIVE_DAEMON_INTERNAL', message };
}
