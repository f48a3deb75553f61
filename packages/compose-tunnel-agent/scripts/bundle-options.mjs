// How the agent is bundled (scripts/bundle.mjs), shared with `npm run bench`, which bundles its
// agent client the same way so the bench runs the ssh2 code users run.
// ssh2's optional native binding (sshcrypto.node) and cpu-features stay out: ssh2 falls back to
// node:crypto when they are missing. Its poly1305 WebAssembly module (only for
// chacha20-poly1305) is replaced by a stub: instantiating it cost 4 MB of RSS (58.8 -> 54.8 MB
// idle) and the agent offers AES-GCM only (src/tunnel-client.ts), which node:crypto does natively.
export const bundleOptions = {
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
  plugins: [
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
};
