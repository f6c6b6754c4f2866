import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  fsyncDirectory,
  isNodeError,
  readFileIfExists,
  writeFileAtomic,
} from '../../daemon/core/atomic-file.ts';

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hive-atomic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('writes a new file with mode 0600 and leaves no temp file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'doc.json');
  await writeFileAtomic(path, '{"a":1}');
  t.is(readFileSync(path, 'utf8'), '{"a":1}');
  t.is(statSync(path).mode & 0o777, 0o600);
  t.deepEqual(readdirSync(dir), ['doc.json']);
});

test('replaces the file as a whole: a reader of the old file keeps the old bytes', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'doc.json');
  await writeFileAtomic(path, 'old contents');
  const inodeBefore = statSync(path).ino;
  const fd = openSync(path, 'r');
  t.teardown(() => closeSync(fd));

  await writeFileAtomic(path, new TextEncoder().encode('new'));

  t.is(readFileSync(path, 'utf8'), 'new');
  t.not(statSync(path).ino, inodeBefore, 'a new file was renamed into place');
  const buffer = Buffer.alloc(64);
  const n = readSync(fd, buffer, 0, buffer.length, 0);
  t.is(
    buffer.subarray(0, n).toString(),
    'old contents',
    'the old file was never rewritten in place',
  );
  t.deepEqual(readdirSync(dir), ['doc.json']);
});

test('concurrent writes to one path leave one complete version and no temp files', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'doc.json');
  const versions = Array.from({ length: 20 }, (_, i) =>
    JSON.stringify({ i, pad: 'x'.repeat(i * 1000) }),
  );
  await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
  t.true(versions.includes(readFileSync(path, 'utf8')));
  t.deepEqual(readdirSync(dir), ['doc.json']);
});

test('a failed rename removes the temp file and keeps what was there', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'target');
  mkdirSync(path);
  writeFileSync(join(path, 'inside'), 'keep');
  const error = await t.throwsAsync(writeFileAtomic(path, 'data'));
  t.true(isNodeError(error));
  t.deepEqual(readdirSync(dir), ['target'], 'no temp file left beside the target');
  t.is(readFileSync(join(path, 'inside'), 'utf8'), 'keep');
});

test('writing into a missing folder fails without creating anything', async (t) => {
  const dir = tempDir(t);
  const error = await t.throwsAsync(writeFileAtomic(join(dir, 'missing', 'doc.json'), 'x'));
  t.true(isNodeError(error) && error.code === 'ENOENT');
  t.deepEqual(readdirSync(dir), []);
});

test('readFileIfExists: undefined only for a missing file', async (t) => {
  const dir = tempDir(t);
  t.is(await readFileIfExists(join(dir, 'nope')), undefined);
  writeFileSync(join(dir, 'yes'), 'héllo');
  t.is(await readFileIfExists(join(dir, 'yes')), 'héllo');
  writeFileSync(join(dir, 'empty'), '');
  t.is(await readFileIfExists(join(dir, 'empty')), '');
  // Any other failure is not "missing": it must surface.
  const error = await t.throwsAsync(readFileIfExists(dir));
  t.true(isNodeError(error) && error.code === 'EISDIR');
});

test('fsyncDirectory syncs an existing folder and rejects a missing one', async (t) => {
  const dir = tempDir(t);
  await t.notThrowsAsync(fsyncDirectory(dir));
  const error = await t.throwsAsync(fsyncDirectory(join(dir, 'missing')));
  t.true(isNodeError(error) && error.code === 'ENOENT');
});
