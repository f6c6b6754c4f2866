import type { IncomingMessage, ServerResponse } from 'node:http';
import { HiveError } from '../../protocol/errors.ts';

/** HTTP status for a refused or failed request, by error code. */
const STATUS_BY_CODE: Record<string, number> = {
  HIVE_WEB_TOKEN_REQUIRED: 401,
  HIVE_WEB_BAD_ORIGIN: 403,
  HIVE_WEB_BAD_REQUEST: 400,
};

/** Largest request body the API reads (a command's arguments, a chat line). */
export const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Answers a HiveError as `{ok: false, error: {code, message}}` (the socket's
 * shape, so the page shows the same text as `hive`). False for any other
 * error, or when the answer already started: the caller logs it.
 */
export function sendError(res: ServerResponse, error: unknown): boolean {
  if (!(error instanceof HiveError) || res.headersSent) return false;
  sendJson(res, STATUS_BY_CODE[error.code] ?? 422, { ok: false, error: error.toWire() });
  return true;
}

/** Reads a JSON body of at most MAX_BODY_BYTES; HIVE_WEB_BAD_REQUEST otherwise. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HiveError('HIVE_WEB_BAD_REQUEST', `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new HiveError('HIVE_WEB_BAD_REQUEST', 'request body is not JSON');
  }
}
