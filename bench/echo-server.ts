/**
 * The round-trip peer: a raw `node:net` server on a Unix socket that speaks
 * the same framing as hived (JSON envelope per frame, `\f` delimiter). It
 * parses each request and answers `{"type":"response","data":{id, ...}}`
 * with a canned answer per command (the bytes hived answers to it), so the
 * difference to hived is hived's own work: node-ipc, the guarded parser,
 * argument validation, routing.
 *
 * Usage: node bench/echo-server.ts SOCKET ANSWERS_JSON_FILE
 * (ANSWERS maps a command name to the response body without its id:
 * {"ok":true,"result":...} or {"ok":false,"error":...}).
 */
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

const [socketPath, answerFile] = process.argv.slice(2);
if (!socketPath || !answerFile) {
  process.stderr.write('usage: echo-server.ts SOCKET ANSWER_JSON_FILE\n');
  process.exit(1);
}
const answers = JSON.parse(readFileSync(answerFile, 'utf8')) as Record<
  string,
  Record<string, unknown>
>;
const unknownCommand = { ok: false, error: { code: 'HIVE_IPC_UNKNOWN_COMMAND', message: '?' } };

rmSync(socketPath, { force: true });
const server = createServer((socket) => {
  socket.setEncoding('utf8');
  let buffer = '';
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let start = 0;
    let end = buffer.indexOf('\f');
    while (end !== -1) {
      const frame = buffer.slice(start, end);
      start = end + 1;
      end = buffer.indexOf('\f', start);
      let id: unknown = null;
      let cmd = '';
      try {
        const data = (JSON.parse(frame) as { data?: { id?: unknown; cmd?: unknown } }).data;
        id = data?.id ?? null;
        cmd = typeof data?.cmd === 'string' ? data.cmd : '';
      } catch {
        // answer with a null id
      }
      const answer = answers[cmd] ?? unknownCommand;
      socket.write(`${JSON.stringify({ type: 'response', data: { id, ...answer } })}\f`);
    }
    buffer = start === 0 ? buffer : buffer.slice(start);
  });
  socket.on('error', () => {});
});
server.listen(socketPath, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('disconnect', () => process.exit(0));
