#!/usr/bin/env node
// hived entry: plain JavaScript so that an old Node reaches the version
// check instead of failing on TypeScript syntax.
import { enableCompileCache } from 'node:module';
import { requireNode } from '../protocol/require-node.js';

requireNode('hived', 'npm start uses the pinned Node 24');
enableCompileCache?.();
const { runFromCommandLine } = await import('./main.ts');
await runFromCommandLine();
