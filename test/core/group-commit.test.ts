import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { appendDurably, GroupCommit, realAppendFs } from '../../daemon/core/group-commit.ts';
import { tinyFilesystem } from '../helpers/tmpfs.ts';

test('a write that the disk only partly takes fails and is cut back (no torn line counts as written)', async (t) => {
  const dir = tinyFilesystem(t, 8);
  if (!dir) {
    t.pass('no tmpfs here: skipped');
    return;
  }
  const path = join(dir, 'log');
  const handle = await open(path, 'a');
  t.teardown(() => handle.close());
  const first = await appendDurably(realAppendFs, handle, 'a'.repeat(5000), 0);
  t.true(first.ok);
  // 8 KiB filesystem, 5,000 bytes used: the kernel takes ~3,000 bytes of this, then ENOSPC.
  const second = await appendDurably(realAppendFs, handle, 'b'.repeat(5000), 5000);
  t.false(second.ok);
  t.is(second.ok ? undefined : (second.error as NodeJS.ErrnoException).code, 'ENOSPC');
  t.true(!second.ok && second.repaired);
  t.is((await stat(path)).size, 5000);
});

test('group commit gathers items pushed in one turn into one write, in order', async (t) => {
  const batches: number[][] = [];
  const commits = new GroupCommit<number>(async (batch) => {
    batches.push(batch);
  });
  for (let i = 0; i < 100; i++) commits.push(i);
  await commits.flushed();
  t.deepEqual(batches, [Array.from({ length: 100 }, (_, i) => i)]);
});

test('items nobody waits for linger and share one write; an urgent one takes them along at once', async (t) => {
  const batches: string[][] = [];
  const commits = new GroupCommit<string>(
    async (batch) => {
      batches.push(batch);
    },
    { lingerMs: 10_000 },
  );
  commits.push('a', false);
  commits.push('b', false);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(batches, [], 'still lingering');
  commits.push('c', true);
  await new Promise((resolve) => setImmediate(resolve));
  await commits.flushed();
  t.deepEqual(batches, [['a', 'b', 'c']]);
  commits.push('d', false);
  await commits.flushed();
  t.deepEqual(batches, [['a', 'b', 'c'], ['d']], 'flushed() does not wait out the linger');
});
