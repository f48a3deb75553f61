// The documentation site (site/build.mjs) built as `npm run docs` builds it, into a temp dir:
// every page produced, every internal link and anchor resolves, nothing from a page reaches the
// HTML unescaped, the CLI reference is what the built CLI's `--help` prints, and the error
// reference is the error catalogue.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { errors } from '@prevu/core/errors';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const docs = join(root, 'site', 'docs');
const temp = mkdtempSync(join(tmpdir(), 'prevu-site-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

async function build(outDir: string, docsDir?: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'site', 'build.mjs'), outDir, ...(docsDir ? [docsDir] : [])]);
  return stdout;
}

const read = (dir: string, page: string) => readFileSync(join(dir, page), 'utf8');
const codeBlocks = (html: string) => [...html.matchAll(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/g)].map((m) => m[1]!);

describe('documentation site', () => {
  it('renders every page with the shared nav, and every internal link and anchor resolves', async () => {
    const out = join(temp, 'dist');
    const pages = readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => f.replace(/\.md$/, '.html'));
    expect(pages).toEqual(expect.arrayContaining(['index.html', 'getting-started.html', 'cli.html', 'drivers.html', 'tunnel-server.html', 'agent.html', 'github-action.html', 'troubleshooting.html', 'errors.html']));
    expect(await build(out)).toContain(`${pages.length} pages`);
    expect(readdirSync(out).sort()).toEqual([...pages].sort());

    const ids = new Map(pages.map((p) => [p, new Set([...read(out, p).matchAll(/ id="([^"]+)"/g)].map((m) => m[1]!))]));
    const broken: string[] = [];
    for (const page of pages) {
      const html = read(out, page);
      for (const p of pages) expect(html, `${page} nav`).toContain(`<a href="${p}"`);
      for (const [, href] of html.matchAll(/<a href="([^"]+)"/g)) {
        if (/^(https?:|mailto:)/.test(href!)) continue;
        const [file, anchor] = href!.split('#');
        const target = file || page;
        if (!ids.has(target)) broken.push(`${page} -> ${href}`);
        else if (anchor && !ids.get(target)!.has(anchor)) broken.push(`${page} -> ${href} (no such anchor)`);
      }
    }
    expect(broken).toEqual([]);

    // code from the pages arrives escaped: `<service>` in the tunnel-server page, and no tag in any block
    expect(read(out, 'tunnel-server.html')).toContain('&lt;service&gt;-&lt;port&gt;');
    for (const page of pages) for (const block of codeBlocks(read(out, page))) expect(block).not.toMatch(/[<>]/);
  });

  it('escapes HTML in every construct and drops links with other schemes', async () => {
    const src = join(temp, 'docs');
    const out = join(temp, 'dist-hostile');
    mkdirSync(src);
    writeFileSync(
      join(src, 'index.md'),
      [
        '# Title <img src=x onerror=alert(1)>',
        '',
        'Text <script>alert(1)</script> and `<b>code</b>` and [bad](javascript:alert(1)) and [ok](other.md#top).',
        '',
        '```html',
        '<script>alert("in a block")</script> & more',
        '```',
        '',
        '- item <iframe>',
        '',
        '| a | b |',
        '|---|---|',
        '| <i>cell</i> | `x \\| y` |',
      ].join('\n'),
    );
    writeFileSync(join(src, 'other.md'), '# Top\n');
    await build(out, src);
    const html = read(out, 'index.html');
    const main = html.slice(html.indexOf('<main>'));
    expect(main).not.toMatch(/<(script|img|iframe|i|b)[\s>]/);
    // a link with another scheme is no link: its Markdown stays as text
    expect(main).not.toMatch(/href="javascript:/i);
    expect(main).toContain('[bad](javascript:alert(1))');
    expect(main).toContain('<a href="other.html#top">ok</a>');
    expect(codeBlocks(html)).toEqual(['&lt;script&gt;alert(&quot;in a block&quot;)&lt;/script&gt; &amp; more\n']);
    expect(main).toContain('<td><code>x | y</code></td>');
    expect(html).toContain('<title>Title &lt;img src=x onerror=alert(1)&gt; · prevu</title>');
  });

  /** Runs a reference page's generator with --check: it regenerates the page and compares. */
  const check = (script: string) =>
    promisify(execFile)(process.execPath, [join(root, 'site', script), '--check']).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it('the CLI reference is the built CLI\'s own --help of every command', async () => {
    // cli-reference.mjs regenerates the sections from packages/cli/src/commands and `--help`
    expect(await check('cli-reference.mjs')).toEqual({ code: 0, stderr: '' });
  });

  it('the error reference is the catalogue: every code it can raise, once, with its exit code', async () => {
    expect(await check('error-reference.mjs')).toEqual({ code: 0, stderr: '' });
    // The lint rule keeps codes in the catalogue; here each entry has a code of its own and a section.
    const page = read(docs, 'errors.md');
    const codes = Object.values(errors).map((factory) => factory.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...page.matchAll(/^## (PREVU_\w+)$/gm)].map((m) => m[1]).sort()).toEqual([...codes].sort());
    expect(page).toContain('## PREVU_UNKNOWN_ENV\n\nexit 1 (user), made by `errors.unknownEnv`\n\n- message: ` no environment "<envId>" `');
    expect(page).toContain('## PREVU_DOCKER_DOWN\n\nexit 2 (environment)');
    // shape() filled every argument of every entry with its name
    expect(page).not.toMatch(/undefined|NaN|\[object /);
  });
});
