import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { args, type CommandRouter } from '../ipc/router.ts';
import { type LogHub, PART_STREAMS, type StreamPart } from './log-hub.ts';

/** The last `lines` lines of a log file, reading at most `maxBytes` from its end. */
async function tailFile(path: string, lines: number, maxBytes: number): Promise<unknown[]> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    const all = text.split('\n').filter(Boolean);
    if (length < size) all.shift(); // first line is probably cut
    return all.slice(-lines).map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return { message: line };
      }
    });
  } finally {
    await handle.close();
  }
}

export function registerLogCommands(router: CommandRouter, logs: LogHub): void {
  router.register({
    name: 'logs.tail',
    summary: 'Show recent log lines; follow streams new ones',
    mutating: false,
    args: args({
      part: z.enum(Object.keys(PART_STREAMS) as [StreamPart, ...StreamPart[]]).optional(),
      lines: z.number().int().min(0).max(10_000).default(50),
      follow: z.boolean().default(false),
    }),
    async handler(a, ctx) {
      const file = a.part ? PART_STREAMS[a.part] : 'hived.log';
      const recent = await tailFile(join(logs.directory, file), a.lines, logs.tailMaxBytes);
      if (!a.follow) return { file, lines: recent };
      for (const line of recent) ctx.emit(line);
      // The same lines the file gets: a part's stream, or hived.log.
      const off = logs.on('line', ({ line, main, stream }) => {
        if (a.part ? stream && line.part === a.part : main) ctx.emit(line);
      });
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      off();
      return { file, followed: true };
    },
  });
}
