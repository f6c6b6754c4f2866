#!/usr/bin/env node
// hive entry: plain JavaScript so that an old Node reaches the version check
// instead of failing on TypeScript syntax. The compile cache makes the
// TypeScript sources load as fast as JavaScript after the first run.
// A namespace import: a named import of enableCompileCache (Node >= 22.1) would
// fail to link on an old Node before the version check could run.
import * as nodeModule from 'node:module';
import { requireNode } from '../protocol/require-node.js';

requireNode('hive', 'run it as "npx hive", which uses the pinned Node 24');
nodeModule.enableCompileCache?.();
const { main } = await import('./cli.ts');
const code = await main(process.argv.slice(2), process.env);
// On Linux writes to pipes, files and terminals are synchronous, so exiting
// now loses no output and skips the socket teardown (a few ms per command).
if (process.platform === 'linux') process.exit(code);
process.exitCode = code;
