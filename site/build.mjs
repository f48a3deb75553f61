// Renders site/docs/*.md to HTML with one shared nav: `node site/build.mjs [outDir] [docsDir]`
// (defaults site/dist and site/docs), with markdown-it (CommonMark + GFM tables). Raw HTML in a page
// is escaped, never passed through, and links keep only http(s), mailto and relative targets.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import MarkdownIt from 'markdown-it';
import anchor from 'markdown-it-anchor';

const here = dirname(fileURLToPath(import.meta.url));
/** Nav order; any other page follows alphabetically. */
const ORDER = ['index', 'getting-started', 'cli', 'drivers', 'tunnel-server', 'sharing', 'dashboard', 'agent', 'github-action', 'troubleshooting', 'errors'];

const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const slug = (text) => text.toLowerCase().replace(/[`*]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
// Only http(s), mailto and relative targets: markdown-it's own check already drops javascript: and
// friends; this one also drops every other scheme (ftp:, file: ...).
md.validateLink = (url) => /^(https?:|mailto:)/i.test(url) || !/^[a-z][a-z0-9+.-]*:/i.test(url);
// Links to other pages (`cli.md#up`) point at their HTML.
const link = md.renderer.rules.link_open ?? ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  token.attrSet('href', token.attrGet('href').replace(/^([\w-]+)\.md(?=#|$)/, '$1.html'));
  return link(tokens, idx, options, env, self);
};
md.use(anchor, { slugify: slug, tabIndex: false });

/** Markdown -> { title, html, ids } (ids: the anchors its headings define). */
export function render(markdown) {
  const env = {};
  const tokens = md.parse(markdown, env);
  const ids = new Set();
  let title = '';
  tokens.forEach((token, i) => {
    if (token.type !== 'heading_open') return;
    ids.add(token.attrGet('id'));
    if (token.tag === 'h1' && !title) title = tokens[i + 1].children.filter((c) => c.type === 'text' || c.type === 'code_inline').map((c) => c.content).join('');
  });
  return { title, html: md.renderer.render(tokens, md.options, env), ids };
}

const STYLE = `body{font:16px/1.55 system-ui,sans-serif;margin:0;display:flex;color:#1d232a}
nav{min-width:13em;padding:1.5em;background:#f3f5f7;min-height:100vh;box-sizing:border-box}
nav a{display:block;padding:.2em 0;color:#234;text-decoration:none}nav a.here{font-weight:700}
main{max-width:52em;padding:1.5em 2.5em}pre{background:#f3f5f7;padding:.8em;overflow-x:auto;font-size:.88em}
code{font-family:ui-monospace,monospace}table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #d5dbe1;padding:.3em .6em;text-align:left;vertical-align:top}`;

export function build(outDir = join(here, 'dist'), docsDir = join(here, 'docs')) {
  const names = readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3));
  const rank = (n) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const pages = names.map((name) => ({ name, ...render(readFileSync(join(docsDir, `${name}.md`), 'utf8')) }));
  mkdirSync(outDir, { recursive: true });
  for (const page of pages) {
    const nav = pages.map((p) => `<a href="${p.name}.html"${p === page ? ' class="here"' : ''}>${escape(p.title || p.name)}</a>`).join('\n');
    const doc = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(page.title || page.name)} · prevu</title><style>${STYLE}</style></head>
<body><nav><strong>prevu</strong>\n${nav}</nav><main>\n${page.html}\n</main></body></html>\n`;
    writeFileSync(join(outDir, `${page.name}.html`), doc);
  }
  return pages.map((p) => `${p.name}.html`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(here, 'dist'));
  const written = build(out, process.argv[3] ? resolve(process.argv[3]) : undefined);
  console.log(`site: ${written.length} pages in ${out}`);
}
