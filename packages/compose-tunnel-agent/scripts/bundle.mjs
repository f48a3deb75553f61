// Bundles the agent into one ESM file, dist/agent.mjs, for the image built FROM node:20-slim.
// ssh2's optional native binding (sshcrypto.node) and cpu-features stay out: ssh2 falls back to
// node:crypto when they are missing. Its poly1305 WebAssembly module (only for
// chacha20-poly1305) is replaced by a stub: instantiating it cost 4 MB of RSS (58.8 -> 54.8 MB
// idle) and the agent offers AES-GCM only (src/tunnel-client.ts), which node:crypto does natively.
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/agent.mjs');
// The AWS SDK's Lightsail client is a file of its own beside the agent: only an env that deletes
// its instance at its TTL imports it (src/lightsail-self-delete.ts), so the agent's start never
// loads it.
const sdkfile = join(root, 'dist/aws-lightsail.mjs');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  external: ['cpu-features', '*.node'],
  // ssh2 and pino are CommonJS: they call require() for node builtins and read __dirname.
  banner: {
    js: [
      "import { createRequire as __prevuCreateRequire } from 'node:module';",
      "import { fileURLToPath as __prevuFileURLToPath } from 'node:url';",
      'const require = __prevuCreateRequire(import.meta.url);',
      'const __filename = __prevuFileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [join(root, 'src/aws-lightsail.ts')], outfile: sdkfile });
await build({
  ...common,
  entryPoints: [join(root, 'src/main.ts')],
  outfile,
  plugins: [
    {
      name: 'aws-sdk-apart',
      setup(b) {
        b.onResolve({ filter: /^\.\/aws-lightsail\.js$/ }, () => ({ path: './aws-lightsail.mjs', external: true }));
      },
    },
    {
      name: 'no-poly1305-wasm',
      setup(b) {
        b.onResolve({ filter: /crypto\/poly1305\.js$/ }, () => ({ path: 'poly1305-stub', namespace: 'prevu-stub' }));
        b.onLoad({ filter: /.*/, namespace: 'prevu-stub' }, () => ({
          loader: 'js',
          contents: `module.exports = async () => ({ _malloc: () => 0, cwrap: () => () => { throw new Error('chacha20-poly1305 is not in the agent bundle; it negotiates AES-GCM'); } });`,
        }));
      },
    },
  ],
});
for (const file of [outfile, sdkfile]) console.log(`bundled ${file} (${Math.round(statSync(file).size / 1024)} KiB)`);
