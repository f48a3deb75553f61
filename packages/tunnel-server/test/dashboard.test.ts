// The dashboard on a real tunnel server, without a browser (the Chromium test is
// packages/cli/test/dashboard.e2e.test.ts): an env whose agent is a stand-in HTTP server behind
// its private tunnel, the one-use login, one account's envs only, headers, CSRF, share links.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signAccessToken } from '@prevu/core/access-token';
import { freePort, startTunnelServer, useKit, type TunnelServer } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { get, hostOf, makeAccount, ssh2Tunnel } from './harness.js';
import { h2connect, h2request } from './h2-kit.js';

const kit = useKit();
const alice = makeAccount();
const bob = makeAccount();
let server: TunnelServer;
const DASH = 'dash.localhost';

/** What an env's agent and its web service answer, on one port: enough for the dashboard's pages. */
async function standIn(): Promise<number> {
  const srv = http.createServer((req, res) => {
    if (req.url === '/services') return void res.end(JSON.stringify([{ service: 'web', state: 'running', health: 'healthy', routing: 'ready' }]));
    if (req.url?.startsWith('/logs/web')) return void res.end('web: hello from the log\n');
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return void res.write(`event: starting\ndata: ${JSON.stringify({ type: 'starting', envId: 'shop', service: 'web', time: new Date().toISOString(), details: {} })}\n\n`);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  kit.defer('stand-in agent', () => new Promise<void>((done) => srv.close(() => done())).then(() => srv.closeAllConnections()));
  return (srv.address() as AddressInfo).port;
}

async function login(account = alice): Promise<{ cookie: string; csrf: string }> {
  const token = await signAccessToken({ privateKey: account.privateKey, ttlSeconds: 120, dashboard: true });
  const res = await get(server.ports.http, DASH, `/login?token=${token}`);
  expect(res.status, res.body).toBe(303);
  const cookie = res.headers['set-cookie']![0]!.split(';')[0]!;
  const page = await get(server.ports.http, DASH, '/env/shop', { headers: { cookie } });
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '' };
}

beforeAll(async () => {
  server = await startTunnelServer(kit);
  const target = await standIn();
  await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'shop', account: alice, target, forwards: [{ kind: 'streamlocal', path: '/prevu-agent#access=private' }, { kind: 'streamlocal', path: '/web-80#access=private' }] });
  await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'blog', account: bob, target, forwards: [{ kind: 'streamlocal', path: '/web-80#access=private' }] });
});

describe('the dashboard', () => {
  it("logs in once with a dashboard token and lists that account's envs with health, unframable", async () => {
    const { cookie } = await login();
    const list = await get(server.ports.http, DASH, '/', { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(list.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(list.headers['x-frame-options']).toBe('DENY');
    expect(list.body).toContain('data-env="shop"');
    expect(list.body).toContain('healthy');
    expect(list.body).not.toContain('blog');
    const logs = await get(server.ports.http, DASH, '/env/shop/logs/web?format=text', { headers: { cookie } });
    expect([logs.status, logs.body]).toEqual([200, 'web: hello from the log\n']);
    // bob sees his env only, and none of alice's pages
    const bobs = await login(bob);
    expect((await get(server.ports.http, DASH, '/', { headers: { cookie: bobs.cookie } })).body).not.toContain('shop');
    expect((await get(server.ports.http, DASH, '/env/shop', { headers: { cookie: bobs.cookie } })).status).toBe(404);
  });

  it('refuses a reused, an expired, an env or share token, and opens no tunnel with a dashboard token', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey, ttlSeconds: 120, dashboard: true });
    expect((await get(server.ports.http, DASH, `/login?token=${token}`)).status).toBe(303);
    expect((await get(server.ports.http, DASH, `/login?token=${token}`)).body).toMatch(/used already/);
    const env = await signAccessToken({ privateKey: alice.privateKey, envId: 'shop' });
    expect((await get(server.ports.http, DASH, `/login?token=${env}`)).status).toBe(401);
    const expired = await signAccessToken({ privateKey: alice.privateKey, ttlSeconds: 1, dashboard: true });
    await new Promise((r) => setTimeout(r, 2100));
    expect((await get(server.ports.http, DASH, `/login?token=${expired}`)).body).toMatch(/expired/);
    expect((await get(server.ports.http, hostOf(alice, 'shop', 'web-80'), '/services', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('makes and revokes share links with the CSRF token from its own origin only', async () => {
    const { cookie, csrf } = await login();
    const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      get(server.ports.http, DASH, path, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: Buffer.from(new URLSearchParams(form).toString()) });
    expect((await post('/env/shop/share', { service: 'web', ttl: '1' })).status).toBe(403);
    expect((await post('/env/shop/share', { csrf, service: 'web', ttl: '1' }, { origin: 'http://evil.localhost' })).status).toBe(403);
    const made = await post('/env/shop/share', { csrf, service: 'web', ttl: '1' });
    expect(made.status).toBe(200);
    const link = new URL(/class="share-link" href="([^"]+)"/.exec(made.body)![1]!.replace(/&amp;/g, '&'));
    const web = hostOf(alice, 'shop', 'web-80');
    const opened = await get(server.ports.http, web, `${link.pathname}${link.search}`);
    expect(opened.status).toBe(302);
    const guest = opened.headers['set-cookie']![0]!.split(';')[0]!;
    expect((await get(server.ports.http, web, '/services', { headers: { cookie: guest } })).status).toBe(200);
    // never the agent's host
    expect((await get(server.ports.http, hostOf(alice, 'shop', 'prevu-agent'), '/services', { headers: { cookie: guest } })).status).toBe(401);
    const id = /data-share="([^"]+)"/.exec((await get(server.ports.http, DASH, '/env/shop', { headers: { cookie } })).body)![1]!;
    expect((await post(`/share/${id}/rm`, { csrf })).status).toBe(303);
    expect((await get(server.ports.http, web, '/services', { headers: { cookie: guest } })).status).toBe(401);
  });

  it('answers over HTTP/2 as a browser on HTTPS speaks it, and counts an env\'s HTTP/2 error pages in its sparkline', async () => {
    const session = await h2connect(kit, `http://127.0.0.1:${server.ports.http}`);
    const token = await signAccessToken({ privateKey: alice.privateKey, ttlSeconds: 120, dashboard: true });
    const login = await h2request(session, DASH, `/login?token=${token}`);
    expect(login.status, login.body).toBe(303);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    // an env whose service refuses every connection: each request is a 502 page from prevu
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'broken', account: alice, target: await freePort(), forwards: [{ kind: 'streamlocal', path: '/web-80' }] });
    for (let i = 0; i < 3; i++) expect((await h2request(session, hostOf(alice, 'broken', 'web-80'), '/')).status).toBe(502);
    const list = await h2request(session, DASH, '/', { cookie });
    expect(list.status).toBe(200);
    const row = list.body.slice(list.body.indexOf('data-env="broken"'));
    expect(/class="spark requests" data-total="(\d+)"/.exec(row)?.[1]).toBe('3');
    expect(/class="spark errors" data-total="(\d+)"/.exec(row)?.[1]).toBe('3');
  });
});
