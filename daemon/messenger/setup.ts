import type { Audit } from '../audit/audit.ts';
import { auditMessages } from '../audit/subscriptions.ts';
import type { BotSupervisor } from '../bots/supervisor.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger, LogHub } from '../logs/log-hub.ts';
import type { StateFileStatus } from '../recovery/repair.ts';
import { Messenger } from './messenger.ts';
import { MessageObserver } from './observe.ts';
import { openMessageStore } from './open.ts';

/**
 * The messaging part as main.ts needs it: the store (opened, damage
 * handled), the messenger (deliveries of the last run handed back), its
 * counters and event stream, and its dead letters in the audit trail.
 */
export async function createMessaging(
  config: Config['messaging'],
  deps: {
    dbDir: string;
    clock: Clock;
    logs: LogHub;
    bots: BotSupervisor;
    audit: Audit;
    /** Why deliveries of the last run are handed back (crash or restart). */
    restartReason: string;
    /** How the store loaded, for `hive recovery status`. */
    onOpened: (status: StateFileStatus) => void;
    recoveryLog: Logger;
  },
) {
  const log = deps.logs.part('messenger');
  const opened = await openMessageStore(deps.dbDir, {
    clock: deps.clock,
    log,
    compactAfterBytes: config.compactAfterBytes,
  });
  deps.onOpened(opened.status);
  const messages = opened.store;
  const messenger = new Messenger({
    store: messages,
    bots: deps.bots,
    clock: deps.clock,
    log,
    config,
  });
  const observer = new MessageObserver(messages, {
    sink: deps.logs.eventSink('messenger'),
    logEvents: () => messenger.config.logEvents,
  });
  auditMessages(deps.audit, messages);
  const released = await messenger.start(deps.restartReason);
  if (released > 0)
    deps.recoveryLog.warn(
      `${released} messages out with bots when the last run ended go out again`,
    );
  return { messages, messenger, observer };
}
