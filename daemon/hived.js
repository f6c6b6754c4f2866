#!/usr/bin/env node
// hived entry: plain JavaScript so that an old Node reaches the version
// check instead of failing on TypeScript syntax.
// A namespace import: a named import of enableCompileCache (Node >= 22.1) would
// fail to link on an old Node before the version check could run.
import * as nodeModule from 'node:module';
import { requireNode } from '../protocol/require-node.js';

requireNode('hived', 'npm start uses the pinned Node 24');
nodeModule.enableCompileCache?.();
const { runFromCommandLine } = await import('./cli.ts');
await runFromCommandLine();
