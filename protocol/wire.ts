/**
 * The control protocol on the daemon's Unix socket.
 *
 * Framing is node-ipc's: one JSON envelope `{"type": T, "data": D}` per frame,
 * each frame ended by a form feed (`\f`). Any language can speak it; the
 * README shows a socat one-liner. This module has no dependencies so that the
 * client loads it in microseconds.
 */
import type { WireError } from './errors.ts';

export const FRAME_DELIMITER = '\f';

/** Who sent a request: the OS user and process behind the connection. */
export interface Actor {
  user: string;
  uid?: number;
  pid?: number;
  /** `socket`, `web`, or an internal source such as `daemon`. */
  via?: string;
  /** Set by the web server only (never read from a socket frame): the request carried the dashboard token. */
  token?: boolean;
}

export interface RequestData {
  id: string | number;
  cmd: string;
  args?: Record<string, unknown>;
  actor?: Actor;
}

export interface OkResponseData {
  id: string | number | null;
  ok: true;
  result: unknown;
}

export interface ErrorResponseData {
  id: string | number | null;
  ok: false;
  error: WireError;
}

export type ResponseData = OkResponseData | ErrorResponseData;

/** A streamed item tied to an open request (log follow, waits, `hive top`). */
export interface EventData {
  id: string | number;
  event: unknown;
}

export type Envelope =
  | { type: 'request'; data: RequestData }
  | { type: 'cancel'; data: { id: string | number } }
  | { type: 'response'; data: ResponseData }
  | { type: 'event'; data: EventData };

export function encodeFrame(type: string, data: unknown): string {
  return JSON.stringify({ type, data }) + FRAME_DELIMITER;
}

/**
 * Splits a growing text buffer into complete frames.
 * Returns the frames and the unfinished remainder to keep for the next chunk.
 */
export function splitFrames(buffer: string): { frames: string[]; rest: string } {
  const frames: string[] = [];
  let start = 0;
  let end = buffer.indexOf(FRAME_DELIMITER);
  while (end !== -1) {
    frames.push(buffer.slice(start, end));
    start = end + 1;
    end = buffer.indexOf(FRAME_DELIMITER, start);
  }
  return { frames, rest: start === 0 ? buffer : buffer.slice(start) };
}
