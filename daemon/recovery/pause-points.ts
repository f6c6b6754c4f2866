import type { Logger } from '../logs/log-hub.ts';

/**
 * Named points inside backup and restore where a test can freeze hived to
 * kill it there (`HIVE_TEST_PAUSE_AT=install:committed`): the only way to
 * land a SIGKILL inside a sub-millisecond step every time. Unset, a point
 * costs one string comparison.
 */
export type PausePoint = (name: string) => Promise<void>;

export const noPause: PausePoint = async () => {};

export function pausePointsFromEnv(env: NodeJS.ProcessEnv, log: Logger): PausePoint {
  const wanted = env.HIVE_TEST_PAUSE_AT;
  if (!wanted) return noPause;
  log.warn(`test hook: hived will freeze at ${wanted} (HIVE_TEST_PAUSE_AT)`);
  return async (name) => {
    if (name !== wanted) return;
    // Straight to stderr: the test waits for this line, then kills hived.
    process.stderr.write(`HIVE_TEST_PAUSED ${name}\n`);
    await new Promise<never>(() => {});
  };
}
