import { readFileSync } from 'node:fs';
import test from 'ava';
import { leafKeys } from '../../daemon/config/manager.ts';
import { CONFIG_MD, configReference } from '../../daemon/config/reference.ts';
import { ConfigSchema } from '../../daemon/config/schema.ts';

test('CONFIG.md is what the schema generates (run npm run config:reference after a schema change)', (t) => {
  const onDisk = readFileSync(CONFIG_MD, 'utf8');
  t.is(onDisk, configReference(), 'CONFIG.md is stale: run npm run config:reference');
});

test('CONFIG.md has a row with a description for every key of the schema', (t) => {
  const text = readFileSync(CONFIG_MD, 'utf8');
  const documented = new Map(
    [...text.matchAll(/^\| `([^`]+)` \| [^|]+ \| [^|]+ \| ([^|]*) \|$/gm)].map((m) => [
      m[1],
      m[2]?.trim(),
    ]),
  );
  // Every leaf of a full config (one bot kind with every optional key set) is documented.
  const full = ConfigSchema.parse({
    daemon: { socket: 's' },
    bots: {
      x: {
        command: 'c',
        cwd: '.',
        taskTypes: ['t'],
        memoryLimitMb: 1,
        killTimeoutMs: 1,
        taskTimeoutMs: 1,
      },
    },
  });
  const keys = leafKeys(full, []).map((k) => k.replace(/^bots\.x\./, 'bots.<name>.'));
  t.true(keys.length > 50);
  for (const key of keys) {
    t.true(documented.has(key), `${key} is in CONFIG.md`);
    t.truthy(documented.get(key), `${key} has a description`);
  }
});
