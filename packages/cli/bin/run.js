#!/usr/bin/env node
import module from 'node:module';

// Node >= 22.1 keeps compiled code between runs (start-up is mostly module loading); Node 20 has
// no such cache. The rest is imported after, so it is compiled through the cache.
module.enableCompileCache?.();
const { execute } = await import('@oclif/core');
const { hoistGlobalFlags } = await import('../dist/argv.js');

await execute({ args: hoistGlobalFlags(process.argv.slice(2)), dir: import.meta.url });
