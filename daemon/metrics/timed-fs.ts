import type { FileHandle } from 'node:fs/promises';
import type { AppendFs } from '../core/group-commit.ts';

/**
 * Wraps the two calls of a durable append (write, fdatasync) to time each
 * batch from its write to the end of its sync, and to count failures. The
 * journal and the audit trail take an AppendFs, so measuring them needs no
 * change inside either.
 */
export function timedAppendFs(
  inner: AppendFs,
  observe: (outcome: { ok: true; seconds: number } | { ok: false; error: unknown }) => void,
): AppendFs {
  const started = new WeakMap<FileHandle, number>();
  return {
    async write(handle, data) {
      started.set(handle, performance.now());
      try {
        await inner.write(handle, data);
      } catch (error) {
        observe({ ok: false, error });
        throw error;
      }
    },
    async sync(handle) {
      try {
        await inner.sync(handle);
      } catch (error) {
        observe({ ok: false, error });
        throw error;
      }
      const start = started.get(handle);
      if (start !== undefined) observe({ ok: true, seconds: (performance.now() - start) / 1000 });
    },
  };
}
