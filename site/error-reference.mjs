// Regenerates the error sections of site/docs/errors.md from the built catalogue
// (packages/core/src/errors.ts; `npx tsc -b packages/core` first), keeping the hand-written text
// before the first section. `node site/error-reference.mjs` writes the page; `--check` only says
// whether it is current (exit 1 if not).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeOrCheck } from './generated-page.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const page = join(root, 'site', 'docs', 'errors.md');
const { errors, ExitCode } = await import(pathToFileURL(join(root, 'packages', 'core', 'dist', 'errors.js')).href);

// A code span that survives any backticks in the text: its fence is one longer than their longest run.
const code = (text) => {
  const fence = '`'.repeat(Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  return `${fence} ${text} ${fence}`;
};

const entries = Object.entries(errors).sort(([, a], [, b]) => a.code.localeCompare(b.code));
const sections = entries.map(([name, factory]) => {
  const [message, fix] = factory.shape();
  return `## ${factory.code}\n\nexit ${ExitCode[factory.kind]} (${factory.kind}), made by \`errors.${name}\`\n\n- message: ${code(message)}\n- fix: ${fix ? code(fix) : 'none'}\n`;
});

writeOrCheck({ page, heading: '## PREVU_', sections, what: 'codes', stale: 'the error catalogue: run `node site/error-reference.mjs` after `npx tsc -b packages/core`' });
