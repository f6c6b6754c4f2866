import {
  type ActorType,
  type AuditEntry,
  canonicalJson,
  defaultSeverity,
  isAuditAction,
  type Severity,
} from '../../protocol/audit.ts';
import type { Actor } from '../../protocol/wire.ts';
import type { ConfigApplier, ConfigCommit } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import type { ConfigSnapshot } from '../config/sources.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../logs/log-hub.ts';
import type { Redactor } from './redact.ts';
import type { AuditTrail, SinkHealth, Written } from './trail.ts';

/** Who did it: an OS user behind the socket, the daemon itself, or a bot. */
export interface AuditActor {
  name: string;
  type: ActorType;
  uid?: number;
  pid?: number;
  verified?: boolean;
  verifyNote?: string;
  via?: string;
}

/**
 * What another part hands to `Audit.record`: one entry before it is
 * sealed. `severity` defaults to the action's (AUDIT_ACTIONS); `args` and
 * `details` are redacted before storage.
 */
export type AuditRecord = Pick<
  AuditEntry,
  'action' | 'target' | 'reason' | 'result' | 'error' | 'req' | 'durationMs' | 'args' | 'details'
> & { severity?: Severity; actor: AuditActor };

export const DAEMON_ACTOR: AuditActor = Object.freeze({ name: 'daemon', type: 'daemon' });

/** The user behind a request, as the client stated it (the daemon when there was none). */
export function wireActor(actor: Actor | undefined): AuditActor {
  if (!actor) return DAEMON_ACTOR;
  return {
    name: actor.user,
    // A dashboard user has no uid or pid; their type says where they came from.
    type: actor.via === 'web' ? 'web' : 'user',
    ...(actor.uid !== undefined ? { uid: actor.uid } : {}),
    ...(actor.pid !== undefined ? { pid: actor.pid } : {}),
    ...(actor.via ? { via: actor.via } : {}),
  };
}

export function botActor(name: string): AuditActor {
  return { name, type: 'bot' };
}

export interface AuditOptions {
  /** Refuse mutating commands while the trail cannot be written. */
  failClosed: boolean;
  /** Record read-only commands too (asynchronously: their answer does not wait). */
  readCommands: boolean;
}

export interface AuditStatus {
  sink: 'ok' | 'broken';
  reason?: string;
  code?: string;
  since?: number;
  seq: number;
  segment: number;
  /** Entries waiting in memory for the sink to recover. */
  backlog: number;
  /** Entries dropped because the backlog was full (this outage). */
  lost: number;
  dir: string;
  keyed: boolean;
  failClosed: boolean;
}

/** What a reload changes at once; the folder and the key need a restart (a new key mid-segment would break its chain). */
const LIVE_KEYS = [
  'audit.failClosed',
  'audit.readCommands',
  'audit.writeTimeoutMs',
  'audit.retryIntervalMs',
  'audit.backlogMax',
  'audit.rotateBytes',
  'audit.rotateAfterMs',
  'audit.keepSegments',
  'audit.maxAgeMs',
  'audit.secretEnv',
  'audit.redactFields',
] as const;

/** Characters an actor name may hold, so readers can match it without unescaping. */
const UNSAFE_NAME = /[^A-Za-z0-9._@:+-]/g;

/**
 * The audit part's front: turns records into canonical entries (redacted),
 * appends them to the trail, and writes down what happens to the trail
 * itself (repairs at start, outages, recoveries, retention).
 */
export class Audit implements ConfigApplier {
  readonly configPart = 'audit';
  readonly configKeys = LIVE_KEYS;
  readonly trail: AuditTrail;
  /** Replaced whole by a config reload. */
  options: Readonly<AuditOptions>;
  #redactor: Redactor;
  readonly #redactorFor: ((config: Config) => Redactor) | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  #lastOutage: Extract<SinkHealth, { state: 'broken' }> | undefined;

  constructor(
    options: AuditOptions,
    deps: {
      trail: AuditTrail;
      redactor: Redactor;
      /** Builds the redactor a new config asks for (secret env values, extra fields). */
      redactorFor?: (config: Config) => Redactor;
      clock: Clock;
      log: Logger;
    },
  ) {
    this.options = Object.freeze({ ...options });
    this.trail = deps.trail;
    this.#redactor = deps.redactor;
    this.#redactorFor = deps.redactorFor;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.trail.on('health', (change) => this.#onHealth(change));
    this.trail.on('retention', ({ segments, throughSeq }) =>
      this.note({
        action: 'audit.retention',
        actor: DAEMON_ACTOR,
        reason: `removed segments ${segments[0]}..${segments.at(-1)}; the trail now starts after entry ${throughSeq}`,
        details: { segments, throughSeq },
      }),
    );
  }

  /** Opens the trail and records what opening it found. */
  async start(): Promise<void> {
    const report = await this.trail.open();
    if (!report) return;
    if (report.cutBytes > 0) {
      this.note({
        action: 'audit.repaired',
        actor: DAEMON_ACTOR,
        reason: `cut ${report.cutBytes} bytes of an unfinished write (a crash) off the end of segment ${report.segment}`,
        details: { cutBytes: report.cutBytes, afterSeq: report.lastSeq },
      });
    }
    if (report.gap) {
      const { from, to } = report.gap;
      this.#log.error(`audit trail: entries ${from}..${to} are gone from the files`);
      this.note({
        action: 'audit.gap',
        actor: DAEMON_ACTOR,
        reason: `the files end before entry ${to}, which hived recorded as written: entries ${from}..${to} were removed while hived was down`,
        details: { from, to },
      });
    }
  }

  get writable(): boolean {
    return this.trail.health.state === 'ok';
  }

  /** Appends an entry; resolves once durable, rejects (HIVE_AUDIT_UNAVAILABLE) if it cannot be. */
  record(record: AuditRecord): Promise<Written> {
    return this.#append(record, true);
  }

  /**
   * Appends without waiting: the entry may share a write a few ms later, and
   * a failed write leaves it in the backlog for the retry.
   */
  note(record: AuditRecord): void {
    this.#append(record, false).catch(() => {});
  }

  #append(record: AuditRecord, urgent: boolean): Promise<Written> {
    if (!isAuditAction(record.action)) throw new TypeError(`unknown audit action ${record.action}`);
    return this.trail.append(this.#encode(record), record.action, this.#clock.now(), urgent);
  }

  /** Fields after `time`, in the documented order (AUDIT.md), redacted. */
  #encode(r: AuditRecord): string {
    const a = r.actor;
    const severity = r.severity ?? defaultSeverity(r.action);
    const name = a.name.replace(UNSAFE_NAME, '_').slice(0, 64) || '_';
    let s = `"action":"${r.action}","severity":"${severity}","actor":"${name}","actorType":"${a.type}"`;
    if (a.uid !== undefined) s += `,"uid":${a.uid}`;
    if (a.pid !== undefined) s += `,"pid":${a.pid}`;
    if (a.verified !== undefined) s += `,"verified":${a.verified}`;
    if (a.verifyNote !== undefined) s += `,"verifyNote":${JSON.stringify(a.verifyNote)}`;
    if (a.via !== undefined) s += `,"via":${JSON.stringify(a.via)}`;
    if (r.target !== undefined) s += `,"target":${JSON.stringify(r.target)}`;
    if (r.reason !== undefined) s += `,"reason":${JSON.stringify(this.#redactor.text(r.reason))}`;
    if (r.result !== undefined) s += `,"result":"${r.result}"`;
    if (r.error !== undefined) s += `,"error":${JSON.stringify(r.error)}`;
    if (r.req !== undefined) s += `,"req":${JSON.stringify(r.req)}`;
    if (r.durationMs !== undefined) s += `,"durationMs":${Math.round(r.durationMs)}`;
    if (r.args !== undefined) s += `,"args":${canonicalJson(this.#redactor.redact(r.args))}`;
    if (r.details !== undefined)
      s += `,"details":${canonicalJson(this.#redactor.redact(r.details))}`;
    return s;
  }

  #onHealth({
    health,
    waited,
    lost,
  }: {
    health: SinkHealth;
    waited: number;
    lost: Record<string, number>;
  }): void {
    if (health.state === 'broken') {
      this.#lastOutage = health;
      this.note({
        action: 'audit.sink_broken',
        actor: DAEMON_ACTOR,
        reason: health.reason,
        details: { code: health.code ?? null, failClosed: this.options.failClosed },
      });
      return;
    }
    const outage = this.#lastOutage;
    const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0);
    this.note({
      action: 'audit.sink_recovered',
      actor: DAEMON_ACTOR,
      reason: `writable again after ${outage ? this.#clock.now() - outage.since : 0} ms (${outage?.reason ?? 'unknown'}); ${waited} waiting entries written, ${lostTotal} lost`,
      details: { waited, lost, brokenSince: outage ? new Date(outage.since).toISOString() : null },
    });
  }

  prepareConfig(next: ConfigSnapshot): ConfigCommit {
    const a = next.config.audit;
    const redactor = this.#redactorFor?.(next.config);
    return () => {
      this.options = Object.freeze({ failClosed: a.failClosed, readCommands: a.readCommands });
      if (redactor) this.#redactor = redactor;
      this.trail.setOptions({
        writeTimeoutMs: a.writeTimeoutMs,
        retryIntervalMs: a.retryIntervalMs,
        backlogMax: a.backlogMax,
        rotateBytes: a.rotateBytes,
        rotateAfterMs: a.rotateAfterMs,
        keepSegments: a.keepSegments,
        maxAgeMs: a.maxAgeMs,
      });
      return undefined;
    };
  }

  status(): AuditStatus {
    const health = this.trail.health;
    const head = this.trail.head;
    return {
      sink: health.state,
      ...(health.state === 'broken'
        ? {
            reason: health.reason,
            ...(health.code ? { code: health.code } : {}),
            since: health.since,
          }
        : {}),
      seq: head.seq,
      segment: head.segment,
      backlog: head.backlog,
      lost: head.lost,
      dir: this.trail.dir,
      keyed: this.trail.key !== undefined,
      failClosed: this.options.failClosed,
    };
  }

  close(): Promise<void> {
    return this.trail.close();
  }
}
