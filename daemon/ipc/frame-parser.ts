import { GuardedParser } from 'node-ipc';
import type { ErrorCode } from '../../protocol/errors.ts';

/** Event name under which the parser reports a bad frame instead of throwing. */
export const PROTOCOL_ERROR_EVENT = 'hive.protocol-error';

export interface ProtocolErrorData {
  code: ErrorCode;
  message: string;
  /** The request id, when the frame was JSON enough to carry one. */
  id: string | number | null;
  /** True when the stream cannot be resynchronised and the connection must end. */
  fatal: boolean;
}

const ACCEPTED = new Set(['request', 'cancel']);

/**
 * node-ipc's guarded parser, changed in one respect: a bad frame becomes a
 * `hive.protocol-error` message (answered with an error response) instead
 * of an exception that makes node-ipc drop the connection without a word.
 * A frame that is valid JSON but not a request keeps the connection open;
 * an oversized one ends it after the answer, because the rest of the stream
 * cannot be trusted to line up.
 */
export class HiveFrameParser extends GuardedParser {
  override read(
    buffer: string,
    data: string,
    receive: (message: { type: string; data: unknown }) => void,
  ): string {
    const combined = buffer ? buffer + data : data;
    let start = 0;
    let end = combined.indexOf(this.delimiter);
    while (end !== -1) {
      const frame = combined.slice(start, end);
      start = end + this.delimiter.length;
      if (Buffer.byteLength(frame) > this.maxMessageSize) {
        receive(tooLarge());
        return '';
      }
      receive(this.#decode(frame));
      end = combined.indexOf(this.delimiter, start);
    }
    const rest = start === 0 ? combined : combined.slice(start);
    if (Buffer.byteLength(rest) > this.maxMessageSize) {
      receive(tooLarge());
      return '';
    }
    return rest;
  }

  #decode(frame: string): { type: string; data: unknown } {
    let message: unknown;
    try {
      message = JSON.parse(frame);
    } catch {
      return problem('HIVE_IPC_MALFORMED_FRAME', 'frame is not valid JSON', null);
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return problem(
        'HIVE_IPC_MALFORMED_FRAME',
        'frame must be a JSON object {"type","data"}',
        null,
      );
    }
    const { type, data } = message as { type?: unknown; data?: unknown };
    const id = requestId(data);
    if (typeof type !== 'string' || !ACCEPTED.has(type)) {
      return problem(
        'HIVE_IPC_MALFORMED_FRAME',
        `frame type must be "request" or "cancel", got ${JSON.stringify(type) ?? 'nothing'}`,
        id,
      );
    }
    return { type, data };
  }
}

function requestId(data: unknown): string | number | null {
  if (typeof data !== 'object' || data === null) return null;
  const id = (data as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function problem(code: ErrorCode, message: string, id: string | number | null) {
  const data: ProtocolErrorData = { code, message, id, fatal: false };
  return { type: PROTOCOL_ERROR_EVENT, data };
}

function tooLarge() {
  const data: ProtocolErrorData = {
    code: 'HIVE_IPC_FRAME_TOO_LARGE',
    message: 'frame exceeds the maximum frame size (ipc.maxFrameBytes); closing the connection',
    id: null,
    fatal: true,
  };
  return { type: PROTOCOL_ERROR_EVENT, data };
}
