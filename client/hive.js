#!/usr/bin/env node
// hive entry: plain JavaScript so that an old Node reaches the version check
// instead of failing on TypeScript syntax. The compile cache makes the
// TypeScript sources load as fast as JavaScript after the first run.
import { enableCompileCache } from 'node:module';
import { requireNode } from '../protocol/require-node.js';

requireNode('hive', 'run it as "npx hive", which uses the pinned Node 24');
enableCompileCache?.();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
