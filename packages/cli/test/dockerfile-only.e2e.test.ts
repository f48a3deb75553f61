// A directory with a Dockerfile and no compose file: `prevu up` makes it a project of one service,
// named after the directory, its port the image's EXPOSE or --port; URL, agent and down as with
// compose. Real Docker, the embedded tunnel server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpGet, uniqueName, useKit } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, errorLines, projectLeftovers, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
const name = uniqueName('site');

/** A directory named `name` holding only `files`. */
function directory(files: Record<string, string>): string {
  const parent = mkdtempSync(join(tmpdir(), 'prevu-dockerfile-'));
  kit.defer(`dir ${parent}`, () => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, name);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

const urlsOf = (stdout: string) => (JSON.parse(stdout.trim().split('\n').at(-1)!) as { urls: { service: string; port: number; url: string }[] }).urls;

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
});

describe('a project with only a Dockerfile', () => {
  it("gets one service named after its directory, on the image's EXPOSE port, with a URL that answers", async () => {
    const dir = directory({
      Dockerfile: 'FROM busybox:latest\nRUN mkdir -p /www && echo from-the-dockerfile > /www/index.html\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n',
    });
    const id = `${name}-exposed`;
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--id', id, '--json'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const [row, ...others] = urlsOf(up.stdout);
    expect(others).toEqual([]);
    expect(row).toMatchObject({ service: name, port: 8080 });
    expect((await httpGet(row!.url)).body).toBe('from-the-dockerfile\n');
    const down = await cli.run(['down', '--id', id], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(await projectLeftovers(`prevu-${id}`)).toEqual([]);
  });

  it('takes its port from --port when the image does not EXPOSE it; --port with a compose file is refused', async () => {
    const dir = directory({ Dockerfile: 'FROM busybox:latest\nCMD ["httpd", "-f", "-p", "9090", "-h", "/etc"]\n' });
    const id = `${name}-port`;
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--id', id, '--port', '9090', '--json'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const [row] = urlsOf(up.stdout);
    expect(row).toMatchObject({ service: name, port: 9090 });
    expect((await httpGet(`${row!.url}/hostname`)).status).toBe(200);
    expect((await cli.run(['down', '--id', id], { cwd: dir })).code).toBe(0);

    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: busybox:latest\n');
    const refused = await cli.run(['up', '--id', id, '--port', '9090'], { cwd: dir });
    expect([refused.code, errorLines(refused.stderr)]).toEqual([1, ['prevu: --port is for a project with only a Dockerfile: a compose project names its ports itself: `expose`, `ports`, or the prevu.expose label']]);
  });

  it('a directory with neither: one line naming both', async () => {
    const dir = directory({ 'README.md': '# nothing to run\n' });
    const r = await cli.run(['up'], { cwd: dir });
    expect([r.code, errorLines(r.stderr)]).toEqual([1, [`prevu: no compose file or Dockerfile in ${dir}: run prevu in a directory with compose.yaml (or a Dockerfile), or pass -f <file>`]]);
  });
});
