import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MacKey } from '../../protocol/audit-chain.ts';
import { HiveError } from '../../protocol/errors.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../logs/log-hub.ts';
import { Audit } from './audit.ts';
import { Redactor } from './redact.ts';
import { AuditTrail, type TrailDeps } from './trail.ts';

type AuditConfig = Config['audit'];

/** The HMAC key from `keyFile` or `keyEnv`; none configured: undefined. */
export function loadAuditKey(
  config: AuditConfig,
  baseDir: string,
  env: NodeJS.ProcessEnv,
): MacKey | undefined {
  let secret: Buffer | undefined;
  let where = '';
  if (config.keyFile) {
    where = `audit.keyFile ${config.keyFile}`;
    try {
      secret = readFileSync(resolve(baseDir, config.keyFile));
    } catch (error) {
      throw new HiveError('HIVE_CONFIG_UNREADABLE', `${where}: ${(error as Error).message}`);
    }
  } else if (config.keyEnv) {
    where = `audit.keyEnv ${config.keyEnv}`;
    const value = env[config.keyEnv];
    if (value === undefined) throw new HiveError('HIVE_CONFIG_INVALID', `${where} is not set`);
    secret = Buffer.from(value);
  }
  if (!secret) return undefined;
  try {
    return MacKey.fromSecret(secret);
  } catch (error) {
    throw new HiveError('HIVE_CONFIG_INVALID', `${where}: ${(error as Error).message}`);
  }
}

/** Secret values by variable name: hived's environment and every bot kind's `env`. */
export function secretValues(
  config: AuditConfig,
  env: NodeJS.ProcessEnv,
  bots: Config['bots'],
): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const name of config.secretEnv) {
    const own = env[name];
    if (own) secrets.set(name, own);
    for (const [kind, bot] of Object.entries(bots)) {
      const value = bot.env[name];
      if (value) secrets.set(secrets.has(name) ? `${name}@${kind}` : name, value);
    }
  }
  return secrets;
}

/** Builds the audit part from its config section (main.ts starts and wires it). */
export function createAudit(
  config: Config,
  context: { defaultDir: string; baseDir: string; env: NodeJS.ProcessEnv },
  deps: { clock: Clock; log: Logger } & Pick<TrailDeps, 'fs' | 'onStep'>,
): Audit {
  const a = config.audit;
  const key = loadAuditKey(a, context.baseDir, context.env);
  const trail = new AuditTrail(
    {
      dir: a.dir ? resolve(context.baseDir, a.dir) : context.defaultDir,
      key,
      rotateBytes: a.rotateBytes,
      rotateAfterMs: a.rotateAfterMs,
      keepSegments: a.keepSegments,
      maxAgeMs: a.maxAgeMs,
      writeTimeoutMs: a.writeTimeoutMs,
      retryIntervalMs: a.retryIntervalMs,
      backlogMax: a.backlogMax,
    },
    deps,
  );
  const redactorFor = (next: Config) =>
    new Redactor({
      key,
      secrets: secretValues(next.audit, context.env, next.bots),
      fields: next.audit.redactFields,
    });
  return new Audit(
    { failClosed: a.failClosed, readCommands: a.readCommands },
    { trail, redactor: redactorFor(config), redactorFor, clock: deps.clock, log: deps.log },
  );
}
