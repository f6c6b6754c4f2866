/**
 * Helpers for messaging tests against a real hived: send through the
 * control socket, read messages back, and read what the talker fixture bot
 * handled (test/fixtures/bots/talker.ts marks every message it handles).
 */
import { join } from 'node:path';
import type { Connection } from '../../client/connection.ts';
import type { MessageView } from '../../protocol/messaging.ts';
import { type DaemonHandle, fixtureBot, waitFor } from './daemon.ts';
import { type FixtureMark, readMarks } from './fleet.ts';

export interface Sent {
  id: string;
  ids: string[];
}

/** A talker bot kind whose handled messages are marked in `log`. */
export function talkerBot(
  log: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const { env, ...rest } = extra as { env?: Record<string, string> };
  return fixtureBot('talker.ts', { env: { HIVE_FIXTURE_LOG: log, ...env }, ...rest });
}

export function send(
  target: DaemonHandle | Connection,
  to: string,
  body: unknown,
  options: { priority?: number; ttlMs?: number } = {},
): Promise<Sent> {
  const args = { to, body, ...options };
  const answer =
    'call' in target ? target.call('msg.send', args) : target.request('msg.send', args);
  return answer as Promise<Sent>;
}

export async function message(daemon: DaemonHandle, id: string): Promise<MessageView> {
  return (await daemon.call('msg.get', { id })) as MessageView;
}

/** Polls a message until `check` holds. */
export function waitMessage(
  daemon: DaemonHandle,
  id: string,
  check: (m: MessageView) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<MessageView> {
  return waitFor(
    async () => {
      const m = await message(daemon, id);
      return check(m) ? m : undefined;
    },
    { timeoutMs, what },
  );
}

export interface Handled extends FixtureMark {
  id: string;
  delivery: number;
  priority: number;
  body: Record<string, unknown>;
}

/** Messages the talker handled, in the order it handled them. */
export function handled(log: string): Handled[] {
  return readMarks(log).filter((m) => m.event === 'handled') as Handled[];
}

export function fixtureLog(dir: string, name = 'talker.log'): string {
  return join(dir, name);
}
