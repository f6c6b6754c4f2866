import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { DurableJsonFile, JsonDocument } from '../../daemon/store/json-document.ts';
import { HiveError } from '../../protocol/errors.ts';

interface Registry {
  items: number[];
  name: string;
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hive-jsondoc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Defaults whose serialisations are counted: one per write that reaches the disk. */
function countedDefaults(): { data: Registry; serialised: () => number } {
  let count = 0;
  const data: Registry = { items: [], name: 'reg' };
  Object.defineProperty(data, 'toJSON', {
    enumerable: false,
    value(this: Registry) {
      count += 1;
      return { items: this.items, name: this.name };
    },
  });
  return { data, serialised: () => count };
}

test('DurableJsonFile: missing file reads as null; writes round-trip', async (t) => {
  const dir = tempDir(t);
  const file = new DurableJsonFile<Registry>(join(dir, 'reg.json'));
  t.is(await file.read(), null);
  await file.write({ items: [1, 2], name: 'ü' });
  t.deepEqual(await file.read(), { items: [1, 2], name: 'ü' });
  t.deepEqual(readdirSync(dir), ['reg.json'], 'no temp file left');
});

test('DurableJsonFile: invalid JSON throws HIVE_STORE_CORRUPT naming the file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'reg.json');
  writeFileSync(path, '{"items":[1,');
  const error = await t.throwsAsync(new DurableJsonFile<Registry>(path).read(), {
    instanceOf: HiveError,
  });
  t.is(error?.code, 'HIVE_STORE_CORRUPT');
  t.deepEqual(error?.details, { path });
  t.true(error?.message.startsWith(path));
});

test('JsonDocument: defaults until saved, then a new instance loads the saved data', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'reg.json');
  const a = new JsonDocument<Registry>(path, { items: [], name: 'default' });
  await a.load();
  t.deepEqual(a.data, { items: [], name: 'default' });
  a.data.items.push(7);
  a.data = { ...a.data, name: 'renamed' };
  await a.save();
  t.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { items: [7], name: 'renamed' });

  const b = new JsonDocument<Registry>(path, { items: [], name: 'default' });
  await b.load();
  t.deepEqual(b.data, { items: [7], name: 'renamed' });
});

test('JsonDocument: concurrent saves are coalesced into at most two writes carrying the latest data', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'reg.json');
  const { data, serialised } = countedDefaults();
  const doc = new JsonDocument<Registry>(path, data);

  const saves: Promise<void>[] = [];
  for (let i = 1; i <= 50; i++) {
    doc.data.items.push(i);
    saves.push(doc.save());
  }
  t.true(
    saves.every((p) => p === saves[0]),
    'every save shares the one drain',
  );
  await Promise.all(saves);
  t.is(serialised(), 2, 'the first write, then one write for the 49 saves that came during it');
  t.deepEqual(
    JSON.parse(readFileSync(path, 'utf8')).items,
    Array.from({ length: 50 }, (_, i) => i + 1),
    'once every save resolved, the file holds the latest data',
  );

  // A save after the drain finished starts a new write.
  doc.data.items.push(51);
  await doc.save();
  t.is(serialised(), 3);
  t.is(JSON.parse(readFileSync(path, 'utf8')).items.length, 51);
  t.deepEqual(readdirSync(dir), ['reg.json']);
});

test('JsonDocument: a failed save rejects, and a later save works again', async (t) => {
  const dir = tempDir(t);
  const sub = join(dir, 'db');
  mkdirSync(sub);
  const path = join(sub, 'reg.json');
  const doc = new JsonDocument<Registry>(path, { items: [], name: 'x' });
  rmSync(sub, { recursive: true });
  doc.data.items.push(1);
  await t.throwsAsync(doc.save());
  mkdirSync(sub);
  doc.data.items.push(2);
  await doc.save();
  t.deepEqual(JSON.parse(readFileSync(path, 'utf8')).items, [1, 2]);
});
