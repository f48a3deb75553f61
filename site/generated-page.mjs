// The generated part of a reference page (cli.md, errors.md): everything from the first line
// starting with `heading`, after the hand-written intro, which stays. With `--check` in argv it
// only says whether the page is current (exit 1 if not); else it writes the page.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

export function writeOrCheck({ page, heading, sections, what, stale }) {
  const current = readFileSync(page, 'utf8');
  const at = current.indexOf(`\n${heading}`);
  const intro = at < 0 ? current : current.slice(0, at + 1);
  const next = `${intro}${sections.join('\n')}`;
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error(`site/docs/${basename(page)} differs from ${stale}`);
      process.exit(1);
    }
  } else {
    writeFileSync(page, next);
    console.log(`site/docs/${basename(page)}: ${sections.length} ${what}`);
  }
}
