/**
 * Benchmark 2: sequential request/response round trips on one connection
 * (client/connection.ts, the `hive` client's own code) against hived, and
 * against a raw node:net server in another process that answers the same
 * bytes with the same framing. Blocks rotate over every (command, server)
 * pair so that all of them see the same machine noise.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../client/connection.ts';
import {
  exitOf,
  NODE,
  ROOT,
  removeTempDir,
  type Summary,
  summarize,
  tempDir,
  track,
} from './lib.ts';

export interface RoundTripSide {
  latencyMs: Summary;
  requestsPerSecond: number;
}

export interface RoundTripResult {
  command: string;
  args: Record<string, unknown>;
  requests: number;
  /** Bytes of one response frame. */
  responseBytes: number;
  hived: RoundTripSide;
  rawNet: RoundTripSide;
}

export interface RoundTripRequest {
  cmd: string;
  args: Record<string, unknown>;
}

async function runBlock(
  connection: Connection,
  request: RoundTripRequest,
  count: number,
  samples: number[],
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    try {
      await connection.request(request.cmd, request.args);
    } catch {
      // an error answer is an answer (task.get of a missing id)
    }
    samples.push(performance.now() - t);
  }
  return performance.now() - start;
}

/** What hived answers to a request: the response body without its id. */
async function answerOf(
  connection: Connection,
  request: RoundTripRequest,
): Promise<Record<string, unknown>> {
  try {
    return { ok: true, result: await connection.request(request.cmd, request.args) };
  } catch (error) {
    const e = error as { code?: string; message?: string; details?: unknown };
    return { ok: false, error: { code: e.code, message: e.message } };
  }
}

export async function benchRoundTrip(options: {
  socket: string;
  requests: RoundTripRequest[];
  /** Round trips per (command, server). */
  perCommand: number;
  blocks?: number;
}): Promise<RoundTripResult[]> {
  const blocks = options.blocks ?? 10;
  const perBlock = Math.ceil(options.perCommand / blocks);
  const hived = await Connection.open(options.socket);
  const answers: Record<string, Record<string, unknown>> = {};
  for (const request of options.requests) answers[request.cmd] = await answerOf(hived, request);

  const dir = tempDir('hive-bench-net-');
  const answerFile = join(dir, 'answers.json');
  writeFileSync(answerFile, JSON.stringify(answers));
  const peerSocket = join(dir, 'peer.sock');
  const peer = track(
    spawn(NODE, [join(ROOT, 'bench', 'echo-server.ts'), peerSocket, answerFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      peer.stdout?.once('data', () => resolve());
      peer.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    });
    const raw = await Connection.open(peerSocket);
    const servers = [
      { name: 'hived', connection: hived },
      { name: 'raw', connection: raw },
    ] as const;
    const samples = new Map<string, number[]>();
    const elapsed = new Map<string, number>();
    // Warm-up: JIT both sides on every command.
    for (const request of options.requests)
      for (const server of servers) await runBlock(server.connection, request, 1000, []);
    const pairs = options.requests.flatMap((request) =>
      servers.map((server) => ({ request, server, key: `${server.name} ${request.cmd}` })),
    );
    for (let b = 0; b < blocks; b++) {
      for (let k = 0; k < pairs.length; k++) {
        const pair = pairs[(b + k) % pairs.length];
        if (!pair) continue;
        const list = samples.get(pair.key) ?? [];
        samples.set(pair.key, list);
        const ms = await runBlock(pair.server.connection, pair.request, perBlock, list);
        elapsed.set(pair.key, (elapsed.get(pair.key) ?? 0) + ms);
      }
    }
    hived.close();
    raw.close();
    const side = (key: string): RoundTripSide => {
      const list = samples.get(key) ?? [];
      return {
        latencyMs: summarize(list),
        requestsPerSecond: (list.length / (elapsed.get(key) ?? 1)) * 1000,
      };
    };
    return options.requests.map((request) => ({
      command: request.cmd,
      args: request.args,
      requests: perBlock * blocks,
      responseBytes: Buffer.byteLength(
        `${JSON.stringify({ type: 'response', data: { id: 1, ...answers[request.cmd] } })}\f`,
      ),
      hived: side(`hived ${request.cmd}`),
      rawNet: side(`raw ${request.cmd}`),
    }));
  } finally {
    peer.kill('SIGTERM');
    await exitOf(peer);
    removeTempDir(dir);
  }
}
