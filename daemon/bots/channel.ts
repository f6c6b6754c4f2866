import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { DaemonToBot } from '../../protocol/bot.ts';

/** One line of output a bot wrote that was not a protocol message. */
export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ChannelHandlers {
  /** A decoded protocol value (not yet validated). */
  message(value: unknown): void;
  output(line: OutputLine): void;
  /** The bot broke the protocol badly enough to be replaced (e.g. an endless line). */
  violation(reason: string): void;
  /** Upper bound of one line from the bot (read at each chunk, so a config change applies live). */
  maxLineBytes(): number;
}

/** How the daemon talks to one bot process, whatever the transport. */
export interface BotChannel {
  readonly transport: 'ipc' | 'stdio';
  /** False when the message could not be handed to the process (it is gone). */
  send(message: DaemonToBot): boolean;
}

/**
 * Splits a stream into lines, bounded so a bot that writes without newlines
 * cannot grow the daemon's memory.
 */
export function readLines(
  stream: Readable,
  onLine: (line: string) => void,
  onOverflow: () => void,
  maxBytes: () => number,
): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let start = 0;
    let end = buffer.indexOf('\n');
    while (end !== -1) {
      onLine(buffer.slice(start, end));
      start = end + 1;
      end = buffer.indexOf('\n', start);
    }
    buffer = buffer.slice(start);
    if (buffer.length > maxBytes()) {
      buffer = '';
      onOverflow();
    }
  });
  stream.on('end', () => {
    if (buffer) onLine(buffer);
    buffer = '';
  });
}

function captureStderr(child: ChildProcess, handlers: ChannelHandlers): void {
  if (child.stderr) {
    readLines(
      child.stderr,
      (text) => handlers.output({ stream: 'stderr', text }),
      () => handlers.violation(`stderr line longer than ${handlers.maxLineBytes()} bytes`),
      handlers.maxLineBytes,
    );
  }
}

/** Node bots: the child-process IPC channel carries messages; stdout is plain output. */
export function ipcChannel(child: ChildProcess, handlers: ChannelHandlers): BotChannel {
  child.on('message', (value) => handlers.message(value));
  if (child.stdout) {
    readLines(
      child.stdout,
      (text) => handlers.output({ stream: 'stdout', text }),
      () => handlers.violation(`stdout line longer than ${handlers.maxLineBytes()} bytes`),
      handlers.maxLineBytes,
    );
  }
  captureStderr(child, handlers);
  return {
    transport: 'ipc',
    send(message) {
      if (!child.connected) return false;
      try {
        child.send(message);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/**
 * Any other executable: newline-delimited JSON both ways. A stdout line that
 * is not JSON is treated as the bot's own log output, not as an error.
 */
export function stdioChannel(child: ChildProcess, handlers: ChannelHandlers): BotChannel {
  if (child.stdout) {
    readLines(
      child.stdout,
      (text) => {
        const trimmed = text.trim();
        if (trimmed.startsWith('{')) {
          try {
            handlers.message(JSON.parse(trimmed));
            return;
          } catch {
            // Not a protocol line: fall through to plain output.
          }
        }
        if (trimmed) handlers.output({ stream: 'stdout', text });
      },
      () => handlers.violation(`stdout line longer than ${handlers.maxLineBytes()} bytes`),
      handlers.maxLineBytes,
    );
  }
  captureStderr(child, handlers);
  child.stdin?.on('error', () => {});
  return {
    transport: 'stdio',
    send(message) {
      const stdin = child.stdin;
      if (!stdin || stdin.destroyed || !stdin.writable) return false;
      stdin.write(`${JSON.stringify(message)}\n`);
      return true;
    },
  };
}
