import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project folder (where package.json and the sample bots live). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const VERSION: string = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Where everything of one daemon lives (design §4). */
export interface StatePaths {
  stateDir: string;
  configFile: string;
  confDir: string;
  dbDir: string;
  backupsDir: string;
  runDir: string;
  socket: string;
  logsDir: string;
  cacheDir: string;
}

export function statePaths(stateDir: string, socket?: string): StatePaths {
  const root = resolve(stateDir);
  const runDir = join(root, 'run');
  return {
    stateDir: root,
    configFile: join(root, 'config', 'hive.yaml'),
    confDir: join(root, 'config', 'conf.d'),
    dbDir: join(root, 'db'),
    backupsDir: join(root, 'backups'),
    runDir,
    socket: socket ? resolve(socket) : join(runDir, 'hived.sock'),
    logsDir: join(root, 'logs'),
    cacheDir: join(root, 'cache'),
  };
}
