// End to end with real Docker and the embedded default: no profile, a temp copy of
// examples/hello, the embedded tunnel server container on free ports (its own name and network,
// so a user's real one is never touched), every URL fetched through it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, httpGet, startRegistryStandIn, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { signAccessToken } from '@prevu/core/access-token';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, embeddedCliHome, errorLines, helloCopy as cliHelloCopy, projectDir, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;

// The copy's directory name is the compose project name: unique, so envs and compose projects
// never meet those of another test running at the same time on the same Docker.
const project = uniqueName('hello');

const helloCopy = (branch: string) => cliHelloCopy(kit, project, branch);

const urlsOf = (table: string) => [...table.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).sort();
const containersOf = async (project: string) => (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).trim().split('\n').filter(Boolean);

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
});

describe('prevu up on the embedded default', () => {
  let main: string;
  let mainUrls: string[];
  /** The private profile's env, its URL row, a share cookie and the share link `urls --share` made. */
  let priv: { id: string; row: { url: string }; cookie: string; shareId: string };

  it('up prints a URL table; every URL answers 200 through the tunnel server', async () => {
    main = helloCopy('main');
    kit.defer(`prevu down ${project}-main`, () => cli.run(['down', '--id', `${project}-main`], { cwd: main }));
    const up = await cli.run(['up'], { cwd: main });
    expect(up.code, up.stderr).toBe(0);
    const tail = up.stdout.trim().split('\n').slice(-3);
    expect(tail[0]).toMatch(/^SERVICE\s+PORT\s+URL\s+HEALTH$/);
    mainUrls = urlsOf(tail.join('\n'));
    expect(mainUrls).toHaveLength(2);
    expect(mainUrls.every((u) => u.includes(`-${project}-main-`))).toBe(true);
    for (const url of mainUrls) expect((await httpGet(url)).status, url).toBe(200);
    const api = mainUrls.find((u) => u.includes('//api-'))!;
    // service discovery: the API knows the web URL from PREVU_URL_WEB
    expect(JSON.parse((await httpGet(api)).body)).toEqual({ hello: 'from the api', env: `${project}-main`, web: mainUrls.find((u) => u.includes('//web-')) });
  });

  it('urls --json gives the same URLs; logs web shows its lines; ls lists the env', async () => {
    const urls = await cli.run(['urls', '--json'], { cwd: main });
    expect(urls.code, urls.stderr).toBe(0);
    const parsed = JSON.parse(urls.stdout) as { envId: string; urls: { url: string }[] };
    expect(parsed.envId).toBe(`${project}-main`);
    expect(parsed.urls.map((u) => u.url).sort()).toEqual(mainUrls);
    // A password guards private URLs only: on this public profile it would promise what it cannot.
    const open = await cli.run(['urls', '--share', '--password', 'open sesame'], { cwd: main });
    expect([open.code, errorLines(open.stderr)]).toEqual([1, [expect.stringMatching(/^prevu: profile "local" is public: its URLs open without a password: /)]]);

    const logs = await cli.run(['logs', 'web'], { cwd: main });
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/web: serving \/www on port 80/);
    expect(logs.stdout).not.toMatch(/api: listening/);

    // -f follows: a request made now shows up in the running command's output
    const follow = await kit.start({ command: 'node', args: [CLI, 'logs', '-f', 'web'], cwd: main, env: cli.env, readyLine: /web: serving/ });
    const web = mainUrls.find((u) => u.includes('//web-'))!;
    const responses = () => follow.output().split('\n').filter((l) => /response:200/.test(l)).length;
    await waitFor('the earlier requests in logs -f', async () => (responses() > 0 ? true : undefined), 15_000);
    const before = responses();
    expect((await httpGet(web)).status).toBe(200);
    await waitFor('the new request in logs -f', async () => (responses() > before ? true : undefined), 15_000);
    follow.child.kill('SIGINT');
    expect(await follow.exited).toBe(130);

    const ls = await cli.run(['ls', '--json']);
    expect((JSON.parse(ls.stdout) as { envs: { envId: string; status: string }[] }).envs).toEqual([expect.objectContaining({ envId: `${project}-main`, status: 'up' })]);

    const status = JSON.parse((await cli.run(['status', '--json'], { cwd: main })).stdout) as { agent: string; services: { service: string; state: string; health: string }[]; urls: { url: string }[]; events: { type: string }[] };
    expect(status.agent).toBe('connected');
    expect(status.services).toEqual(expect.arrayContaining([{ service: 'api', state: 'running', health: 'healthy' }, expect.objectContaining({ service: 'web', state: 'running' })]));
    expect(status.urls.map((u) => u.url).sort()).toEqual(mainUrls);
    expect(status.events.map((e) => e.type)).toContain('url_assigned');

    // `up` started the embedded server: a container with a restart policy
    const server = JSON.parse((await cli.run(['server', 'status', '--json'])).stdout) as { running: boolean; settings: { container: string; httpPort: number } };
    expect(server).toMatchObject({ running: true, current: true, settings: { container: cli.env.PREVU_EMBEDDED_NAME, httpPort: Number(cli.env.PREVU_EMBEDDED_HTTP_PORT) } });
    expect((await docker(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', server.settings.container])).trim()).toBe('unless-stopped');
  });

  it('events prints the history; events -f --json follows: a restarted service shows up as it happens', async () => {
    const history = await cli.run(['events'], { cwd: main });
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^\S+Z {2}url_assigned web {2}\{/m);
    const follow = await kit.start({ command: 'node', args: [CLI, 'events', '-f', '--json'], cwd: main, env: cli.env, readyLine: /"url_assigned"/ });
    const lines = () => follow.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; service?: string; envId: string });
    const before = lines().filter((e) => e.type === 'starting' && e.service === 'web').length;
    const [web] = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=prevu-${project}-main`, '--filter', 'label=com.docker.compose.service=web'])).trim().split('\n');
    await docker(['restart', web!]);
    await waitFor('the restart in events -f', async () => (lines().filter((e) => e.type === 'starting' && e.service === 'web').length > before ? true : undefined), 30_000);
    expect(lines().every((e) => e.envId === `${project}-main`)).toBe(true);
    follow.child.kill('SIGINT');
    expect(await follow.exited).toBe(130);
  });

  it('a second branch comes up beside it with its own envId, URLs and compose project (`up --json web`: a subset)', async () => {
    const feature = helloCopy('feature/login');
    kit.defer(`prevu down ${project}-feature-login`, () => cli.run(['down'], { cwd: feature }));
    const up = await cli.run(['up', '--json', 'web'], { cwd: feature });
    expect(up.code, up.stderr).toBe(0);
    const lines = up.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = lines.at(-1) as { envId: string; project: string; urls: { service: string; url: string }[] };
    const types = lines.slice(0, -1).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['container_allocated', 'starting', 'healthy', 'url_assigned']));
    expect(types.at(-1)).toBe('url_assigned');
    expect(result.envId).toBe(`${project}-feature-login`);
    expect(result.project).toBe(`prevu-${project}-feature-login`);
    // only the chosen service gets a URL; compose still starts what it depends on
    expect(result.urls.map((u) => u.service)).toEqual(['web']);
    expect(mainUrls).not.toContain(result.urls[0]!.url);
    for (const url of [result.urls[0]!.url, ...mainUrls]) expect((await httpGet(url)).status, url).toBe(200);
    expect(await containersOf(`prevu-${project}-feature-login`)).toHaveLength(3);
    expect(await containersOf(`prevu-${project}-main`)).toHaveLength(3);
    const down = await cli.run(['down'], { cwd: feature });
    expect(down.code, down.stderr).toBe(0);
    expect(await containersOf(`prevu-${project}-main`)).toHaveLength(3); // the other branch is untouched
  });

  it('PREVU_URL_* interpolate in the compose files: a build arg bakes the API URL into the web image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prevu-discovery-'));
    kit.defer(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'web', 'Dockerfile'), 'FROM busybox:latest\nARG API_URL\nRUN mkdir -p /www && echo "$API_URL" > /www/api-url\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n');
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        `name: ${project}-disc`,
        'services:',
        '  api:',
        '    image: busybox:latest',
        '    init: true',
        '    command: ["sh", "-c", "mkdir -p /www && echo api > /www/index.html && exec httpd -f -p 3000 -h /www"]',
        '    expose: ["3000"]',
        '  web:',
        '    init: true',
        '    build: { context: ./web, args: { API_URL: "${PREVU_URL_API:-unset}" } }',
        '    expose: ["80"]',
        '',
      ].join('\n'),
    );
    const id = `${project}-disc`;
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--json', '--id', id], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const rows = (JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { urls: { service: string; url: string }[] }).urls;
    const api = rows.find((r) => r.service === 'api')!.url;
    const web = rows.find((r) => r.service === 'web')!.url;
    const baked = await httpGet(`${web}/api-url`);
    expect(baked.status).toBe(200);
    expect(baked.body.trim()).toBe(api);
    expect((await cli.run(['down', '--id', id], { cwd: dir })).code).toBe(0);
  });

  it('down removes the containers and the URLs stop answering; a second down says it is unknown', async () => {
    const down = await cli.run(['down'], { cwd: main });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`removed ${project}-main`));
    expect(await containersOf(`prevu-${project}-main`)).toEqual([]);
    // The agent cancels its forwards when compose stops it, so the server forgets the hostnames:
    // unknown host (404), not "tunnel gone" (502, which is for an agent that crashed).
    for (const url of mainUrls) {
      const res = await waitFor(`${url} to be gone`, async () => {
        const r = await httpGet(url);
        return r.headers['x-prevu-error'] ? r : undefined;
      }, 30_000);
      expect(res.status, url).toBe(404);
      expect(res.body).toMatch(/No tunnel for this address/);
    }
    const again = await cli.run(['down'], { cwd: main });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`no environment "${project}-main"`));
  });

  it('--json events of a full up start with build_registered; up again is idempotent; purge removes every env', async () => {
    const id = `${project}-events`;
    kit.defer('prevu down events', () => cli.run(['down', '--id', id], { cwd: main }));
    const first = await cli.run(['up', '--json', '--id', id], { cwd: main });
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; urls?: { url: string }[] });
    expect(lines.slice(0, 2).map((e) => e.type)).toEqual(['build_registered', 'image_built']);
    const again = await cli.run(['up', '--json', '--id', id], { cwd: main });
    expect(again.code, again.stderr).toBe(0);
    const urls = (text: string) => (JSON.parse(text.trim().split('\n').at(-1)!) as { urls: { url: string }[] }).urls.map((u) => u.url);
    expect(urls(again.stdout)).toEqual(urls(first.stdout));
    const purge = await cli.run(['purge', '--json']);
    expect(purge.code, purge.stderr).toBe(0);
    expect((JSON.parse(purge.stdout) as { removed: { envId: string }[] }).removed.map((r) => r.envId)).toEqual([id]);
    expect(await containersOf(`prevu-${id}`)).toEqual([]);
  });

  it('an image compose pulls from a registry is an image_pulled event naming it', async () => {
    const registry = await startRegistryStandIn(kit, { 'prevu-test/box:pulled': 'busybox:latest' });
    const image = `${registry.host}/prevu-test/box:pulled`;
    kit.defer('pulled image', () => docker(['rmi', '-f', image]));
    const id = uniqueName('pull');
    const dir = projectDir(kit, { 'compose.yaml': `services:\n  web:\n    image: ${image}\n    init: true\n    command: ["httpd", "-f", "-p", "80"]\n    expose: ["80"]\n` });
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--json', '--id', id], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const events = up.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; service?: string; details?: unknown });
    expect(events.filter((e) => e.type === 'image_pulled')).toEqual([expect.objectContaining({ service: 'web', details: { image } })]);
    expect(registry.pulls).toContain('prevu-test/box:pulled');
  });

  it('a private profile: its URLs need the account token, which opens them', async () => {
    expect((await cli.run(['profile', 'create', 'priv', '--private'])).code).toBe(0);
    const id = `${project}-private`;
    kit.defer('prevu down private', () => cli.run(['down', '--profile', 'priv', '--id', id], { cwd: main }));
    const up = await cli.run(['up', '--json', '--profile', 'priv', '--id', id, 'web'], { cwd: main });
    expect(up.code, up.stderr).toBe(0);
    const [row] = (JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { urls: { url: string }[] }).urls;
    expect((await httpGet(row!.url)).status).toBe(401);
    const key = readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'priv', 'id_ed25519'), 'utf8');
    const token = await signAccessToken({ privateKey: key, envId: id, ttlSeconds: 60 });
    expect((await httpGet(row!.url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    // `urls --share`: a login link trades its token for a cookie that opens the private URL
    const shared = await cli.run(['urls', '--share', '--ttl', '2', '--json', '--profile', 'priv', '--id', id]);
    expect(shared.code, shared.stderr).toBe(0);
    const link = (JSON.parse(shared.stdout) as { urls: { url: string; share: string }[] }).urls.find((u) => u.url === row!.url)!;
    const login = await httpGet(link.share);
    expect(login.status).toBe(302);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await httpGet(row!.url, { headers: { cookie } })).status).toBe(200);
    const badTtl = await cli.run(['urls', '--share', '--ttl', '200', '--profile', 'priv', '--id', id]);
    expect([badTtl.code, errorLines(badTtl.stderr)]).toEqual([1, ['prevu: --ttl: expected an integer less than or equal to 168 but received: 200 (e.g. --ttl 24): see `prevu urls --help`']]);

    // With a password (from the environment, out of shell history): the browser's prompt asks for it.
    const guarded = await cli.run(['urls', '--share', '--profile', 'priv', '--id', id], { env: { PREVU_SHARE_PASSWORD: 'open sesame' } });
    expect(guarded.code, guarded.stderr).toBe(0);
    expect(guarded.stdout).toContain('they open it with the password');
    const guardedLink = /^web:\d+\s+(\S+)$/m.exec(guarded.stdout)![1]!;
    expect((await httpGet(guardedLink)).status).toBe(401);
    const basic = `Basic ${Buffer.from('x:open sesame').toString('base64')}`;
    const opened = await httpGet(guardedLink, { headers: { authorization: basic } });
    expect(opened.status).toBe(302);
    expect((await httpGet(row!.url, { headers: { cookie: String(opened.headers['set-cookie']).split(';')[0]! } })).status).toBe(200);
    const short = await cli.run(['urls', '--share', '--password', 'short', '--profile', 'priv', '--id', id]);
    expect([short.code, errorLines(short.stderr)]).toEqual([1, ['prevu: a share password needs at least 8 characters: choose a longer one']]);
    // The password in the environment does not get in the way of a plain `urls`.
    expect((await cli.run(['urls', '--profile', 'priv', '--id', id], { env: { PREVU_SHARE_PASSWORD: 'open sesame' } })).code).toBe(0);
    priv = { id, row: row!, cookie, shareId: (JSON.parse(shared.stdout) as { shareId: string }).shareId };
  }, 180_000);

  it('share makes a record of its own (one service), share ls lists it, share rm revokes it at once', async () => {
    const { id, row, cookie, shareId } = priv;
    const made = await cli.run(['share', id, 'web', '--ttl', '1', '--json', '--profile', 'priv']);
    expect(made.code, made.stderr).toBe(0);
    const record = JSON.parse(made.stdout) as { id: string; service: string; urls: { share: string }[] };
    expect(record.service).toBe('web');
    const scopedLogin = await httpGet(record.urls[0]!.share);
    expect(scopedLogin.status).toBe(302);
    const scopedCookie = String(scopedLogin.headers['set-cookie']).split(';')[0]!;
    expect((await httpGet(row.url, { headers: { cookie: scopedCookie } })).status).toBe(200);
    const ls = await cli.run(['share', 'ls', id, '--json', '--profile', 'priv']);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = (JSON.parse(ls.stdout) as { shares: { id: string; service?: string }[] }).shares;
    // `urls --share` made records too: the plain one, the one with a password, then this one
    expect(listed.map((l) => l.id)).toEqual([shareId, expect.any(String), record.id]);
    const table = await cli.run(['share', 'ls', '--profile', 'priv']);
    expect(table.stdout).toMatch(new RegExp(`^${record.id}\\s+${id}\\s+web\\s+no\\s`, 'm'));
    const rm = await cli.run(['share', 'rm', record.id, '--profile', 'priv']);
    expect([rm.code, rm.stdout.trim()], rm.stderr).toEqual([0, `revoked share link ${record.id}`]);
    expect((await httpGet(row.url, { headers: { cookie: scopedCookie } })).status).toBe(401);
    expect((await httpGet(record.urls[0]!.share)).status).toBe(401);
    expect((await httpGet(row.url, { headers: { cookie } })).status).toBe(200);
    const again = await cli.run(['share', 'rm', record.id, '--profile', 'priv']);
    expect([again.code, errorLines(again.stderr)]).toEqual([1, [`prevu: no live share link "${record.id}" for this account (revoked, expired, or made on another tunnel server): see \`prevu share ls\` for the live ones`]]);
    const noSuch = await cli.run(['share', id, 'nope', '--profile', 'priv']);
    expect([noSuch.code, errorLines(noSuch.stderr)]).toEqual([1, [`prevu: no service "nope" in ${id}: choose from: web`]]);

    expect((await cli.run(['purge', '--profile', 'priv'])).code).toBe(0);
    expect(await containersOf(`prevu-${id}`)).toEqual([]);
  });

  it('Ctrl-C during up exits 130 and leaves the env listed; down removes it', async () => {
    const dir = helloCopy('main');
    // The api stays `starting` (its first check is an hour away), so web never starts and up cannot
    // finish before the Ctrl-C, however fast this machine is.
    const compose = join(dir, 'compose.yaml');
    writeFileSync(compose, readFileSync(compose, 'utf8').replace('interval: 2s', 'interval: 3600s'));
    const ctrlc = `${project}-ctrlc`;
    kit.defer('prevu down ctrlc', () => cli.run(['down', '--id', ctrlc], { cwd: dir }));
    const proc = await kit.start({ command: 'node', args: [CLI, 'up', '--id', ctrlc], cwd: dir, env: cli.env, readyLine: /› Start the services/, timeoutMs: 60_000 });
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(130);
    expect(proc.output()).toContain(`interrupted: env ${ctrlc} may be half-made: \`prevu ls\` lists it, \`prevu down --id ${ctrlc}\` removes it`);
    const ls = await cli.run(['ls', '--json']);
    expect((JSON.parse(ls.stdout) as { envs: { envId: string; status: string }[] }).envs.find((e) => e.envId === ctrlc)).toMatchObject({ status: 'interrupted' });
    const down = await cli.run(['down', '--id', ctrlc], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(await containersOf(`prevu-${ctrlc}`)).toEqual([]);
  });
});
