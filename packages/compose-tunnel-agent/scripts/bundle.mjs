// Bundles the agent into one ESM file, dist/agent.mjs, for the image built FROM node:20-slim
// (what goes in and what stays out: scripts/bundle-options.mjs).
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleOptions } from './bundle-options.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/agent.mjs');
// The AWS SDK's Lightsail client is a file of its own beside the agent: only an env that deletes
// its instance at its TTL imports it (src/lightsail-self-delete.ts), so the agent's start never
// loads it.
const sdkfile = join(root, 'dist/aws-lightsail.mjs');
await build({ ...bundleOptions, entryPoints: [join(root, 'src/aws-lightsail.ts')], outfile: sdkfile });
await build({
  ...bundleOptions,
  entryPoints: [join(root, 'src/main.ts')],
  outfile,
  plugins: [
    {
      name: 'aws-sdk-apart',
      setup(b) {
        b.onResolve({ filter: /^\.\/aws-lightsail\.js$/ }, () => ({ path: './aws-lightsail.mjs', external: true }));
      },
    },
    ...bundleOptions.plugins,
  ],
});
for (const file of [outfile, sdkfile]) console.log(`bundled ${file} (${Math.round(statSync(file).size / 1024)} KiB)`);
