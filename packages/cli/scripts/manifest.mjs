// Writes oclif.manifest.json (what `oclif manifest` makes, without the oclif CLI's dependencies):
// with it, `prevu` finds its commands without importing every one at start-up.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = fileURLToPath(new URL('..', import.meta.url));
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
writeFileSync(`${root}oclif.manifest.json`, JSON.stringify(plugin.manifest));
