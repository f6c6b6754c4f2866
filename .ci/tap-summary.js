#!/usr/bin/env node
// Passes ava's TAP output through and ends with the one line CI counts:
// "N passed, N failed". Exits non-zero when anything failed or the counts
// are missing (a crashed run must not look green).
import { createInterface } from 'node:readline';

/** @type {number | undefined} */
let passed;
/** @type {number | undefined} */
let failed;
let notOk = 0;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const pass = line.match(/^# pass (\d+)/);
  const fail = line.match(/^# fail (\d+)/);
  if (pass) passed = Number(pass[1]);
  if (fail) failed = Number(fail[1]);
  if (line.startsWith('not ok')) notOk += 1;
});
lines.on('close', () => {
  const p = passed ?? 0;
  const f = failed ?? notOk;
  process.stdout.write(`${p} passed, ${f} failed\n`);
  process.exitCode = passed === undefined || f > 0 ? 1 : 0;
});
