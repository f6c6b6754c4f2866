import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface ChildOutput {
  /** The exit code; null when killed by a signal or when it could not start. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Collects a child's stdout and stderr as text until it closes. A child
 * that cannot start resolves with its error in `stderr`, never rejects:
 * callers report it like any other failed run.
 */
export function collectOutput(
  child: ChildProcessByStdio<null, Readable, Readable>,
): Promise<ChildOutput> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', (error) => resolve({ code: null, stdout, stderr: stderr + String(error) }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
