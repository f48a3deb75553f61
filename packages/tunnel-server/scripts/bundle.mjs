// One-file bundle of the built server for the container image (run after `tsc -b`).
// ssh2's optional native crypto binding and cpu-features stay out: ssh2 falls back to its
// JavaScript/Node crypto paths when they are missing.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  entryPoints: [`${root}dist/main.js`],
  outfile: `${root}dist/bundle/tunnel-server.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['*.node', 'cpu-features'],
  // CommonJS dependencies use require() and __dirname; give the ESM bundle real ones.
  banner: {
    js: [
      "import { createRequire as __prevuRequire } from 'node:module';",
      "import { fileURLToPath as __prevuPath } from 'node:url';",
      "const require = __prevuRequire(import.meta.url);",
      'const __filename = __prevuPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
  legalComments: 'none',
  logLevel: 'warning',
});
