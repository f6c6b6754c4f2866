import { HiveError } from '../../protocol/errors.ts';
import { relaunch } from '../bots/spec.ts';
import type { DeployDeps } from './contract.ts';
import type { DeployRecord } from './record.ts';

/** The green pool's side effects: started labelled, and drained then stopped. */

type GreenDeps = Pick<DeployDeps, 'bots' | 'clock' | 'log' | 'configSpec' | 'requeueFrom'>;

/**
 * Starts the record's green pool from the kind's configured spec with the
 * record's launch, each bot labelled with its pool and version (what its
 * leases record).
 */
export async function startGreen(deps: GreenDeps, rec: DeployRecord): Promise<void> {
  const spec = deps.configSpec(rec.kind);
  if (!spec) throw new HiveError('HIVE_BOT_KIND_NOT_FOUND', `no bot kind named ${rec.kind}`);
  const bots = await deps.bots.startGreen(rec.kind, relaunch(spec, rec.launch), rec.instances);
  for (const bot of bots) bot.release = { pool: 'green', version: rec.version };
}

/**
 * Green's running tasks get `timeoutMs` to finish; what is left goes back
 * to the queue (to blue) without counting an attempt; green stops only
 * then, with nothing in flight.
 */
export async function drainGreen(
  deps: GreenDeps,
  rec: DeployRecord,
  options: { timeoutMs: number; reason: string },
): Promise<void> {
  const deadline = deps.clock.now() + options.timeoutMs;
  const busy = () => deps.bots.greenBots(rec.kind).some((b) => b.inflight.size > 0);
  while (busy() && deps.clock.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const names = new Set(deps.bots.greenBots(rec.kind).map((b) => b.name));
  const requeued = await deps.requeueFrom(names, `deployment rolled back: ${options.reason}`);
  if (requeued > 0) deps.log.info(`${rec.id}: ${requeued} tasks of green went back to the queue`);
  await deps.bots.stopGreen(rec.kind, `deployment ${rec.id} rolled back`);
}
