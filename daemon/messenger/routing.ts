import { HiveError } from '../../protocol/errors.ts';
import type { Address } from './message.ts';

/** What an address can name, as the messenger sees it now. */
export interface Directory {
  hasBot(name: string): boolean;
  hasKind(kind: string): boolean;
  /** Bot kinds subscribed to a topic. */
  subscribers(topic: string): ReadonlySet<string> | undefined;
}

/**
 * Where a message to `to` goes: a bot name (that bot, also while it
 * restarts), else a bot kind (any one of its bots), else a topic (one copy
 * per subscribed kind, each to any one of its bots: a kind's bots are
 * replicas, so a topic message is handled once per kind, not once per
 * process), else an `@` endpoint. Names are looked up in that order, so a
 * topic named like a bot kind is shadowed by it.
 */
export function route(to: string, directory: Directory): Address[] {
  if (to.startsWith('@')) return [to as Address];
  if (directory.hasBot(to)) return [`bot:${to}`];
  if (directory.hasKind(to)) return [`kind:${to}`];
  const kinds = [...(directory.subscribers(to) ?? [])].filter((k) => directory.hasKind(k)).sort();
  if (kinds.length > 0) return kinds.map((kind): Address => `kind:${kind}`);
  throw new HiveError(
    'HIVE_MSG_NO_RECIPIENT',
    `no bot, bot kind or subscribed topic is named ${JSON.stringify(to)}; see hive bots ls`,
  );
}

/** The bot name or kind an inbox address belongs to (undefined for an endpoint). */
export function inboxOwner(address: Address): { bot: string } | { kind: string } | undefined {
  if (address.startsWith('bot:')) return { bot: address.slice(4) };
  if (address.startsWith('kind:')) return { kind: address.slice(5) };
  return undefined;
}
