// Renders site/docs/*.md to HTML with one shared nav: `node site/build.mjs [outDir] [docsDir]`
// (defaults site/dist and site/docs). A small Markdown subset (headings, paragraphs, fenced code,
// lists, tables, links, `code`, **bold**) rendered by escaping everything first, so no HTML in a
// page ever reaches the output; no renderer is installed in the repository and this one needs none.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Nav order; any other page follows alphabetically. */
const ORDER = ['index', 'getting-started', 'cli', 'drivers', 'tunnel-server', 'agent', 'github-action', 'troubleshooting'];

const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const slug = (text) => text.toLowerCase().replace(/<[^>]*>|&[a-z]+;|[`*]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** Links to other pages (`cli.md#up`) point at their HTML; only http(s), mailto and relative targets are kept. */
function href(target) {
  if (/^(https?:|mailto:)/i.test(target)) return target;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  return target.replace(/^([\w-]+)\.md(?=#|$)/, '$1.html');
}

/** Inline markup of already-escaped text; code spans first, so nothing inside them is touched. */
function inline(text) {
  const codes = [];
  let out = escape(text).replace(/`([^`]+)`/g, (_, code) => `\uE000${codes.push(code) - 1}\uE000`);
  out = out.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, label, target) => {
    const url = href(target.replace(/&amp;/g, '&'));
    return url === undefined ? label : `<a href="${escape(url)}">${label}</a>`;
  });
  out = out.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  return out.replace(/\uE000(\d+)\uE000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
}

const cells = (row) => row.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => inline(c.trim().replace(/\\\|/g, '|')));

/** Markdown -> { title, html, ids } (ids: the anchors its headings define). */
export function render(markdown) {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  const html = [];
  const ids = new Set();
  let title = '';
  let para = [];
  const flush = () => {
    if (para.length) html.push(`<p>${inline(para.join(' '))}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^```\s*([\w-]*)/);
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (fence) {
      flush();
      const body = [];
      while (++i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i]);
      html.push(`<pre><code${fence[1] ? ` class="language-${fence[1]}"` : ''}>${escape(body.join('\n'))}</code></pre>`);
    } else if (heading) {
      flush();
      const level = heading[1].length;
      const content = inline(heading[2]);
      let id = slug(content);
      for (let n = 2; ids.has(id); n++) id = `${slug(content)}-${n}`;
      ids.add(id);
      if (level === 1 && !title) title = heading[2].replace(/[`*]/g, '');
      html.push(`<h${level} id="${id}">${content}</h${level}>`);
    } else if (/^\|.*\|\s*$/.test(line) && /^\|[\s|:-]+\|\s*$/.test(lines[i + 1] ?? '')) {
      flush();
      const head = cells(line);
      const rows = [];
      for (i += 2; i < lines.length && /^\|/.test(lines[i]); i++) rows.push(cells(lines[i]));
      i--;
      html.push(`<table><thead><tr>${head.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`);
    } else if (/^\s{0,1}([-*]|\d+\.)\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d+\./.test(line);
      const items = [];
      for (; i < lines.length && lines[i].trim() !== '' && !/^(```|#)/.test(lines[i]); i++) {
        const item = lines[i].match(/^\s{0,1}(?:[-*]|\d+\.)\s+(.*)$/);
        if (item) items.push(item[1]);
        else items[items.length - 1] += ` ${lines[i].trim()}`; // a wrapped line continues the item
      }
      i--;
      const tag = ordered ? 'ol' : 'ul';
      html.push(`<${tag}>${items.map((it) => `<li>${inline(it)}</li>`).join('')}</${tag}>`);
    } else if (line.trim() === '') {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return { title, html: html.join('\n'), ids };
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
