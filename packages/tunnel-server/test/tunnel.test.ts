// The tunnel server as a real process, driven by real SSH clients (OpenSSH `ssh -R` and ssh2) and
// real HTTP/WebSocket clients on loopback with explicit Host headers.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { hashPassword, signAccessToken } from '@prevu/core/access-token';
import { tunnelExec } from '@prevu/core/tunnel-server-client';
import type { HelloReply } from '@prevu/core/tunnel-protocol';
import { hostLabel, MAX_LABEL } from '@prevu/core/names';
import { freePort, startTunnelServer, useKit, waitFor, type TunnelServer } from '@prevu/test-kit';
import { get, hostOf, makeAccount, memoryOf, opensshExec, opensshTunnel, resetPeakMemory, ssh2Tunnel, startBackend, writeChunks, type Forward } from './harness.js';

const kit = useKit();
let server: TunnelServer;
let backend: Awaited<ReturnType<typeof startBackend>>;
const alice = makeAccount();
const bob = makeAccount('rsa');

beforeAll(async () => {
  server = await startTunnelServer(kit);
  backend = await startBackend(kit, 'alice-backend');
});

const proxy = () => server.ports.http;

describe('forwards from a plain OpenSSH client', () => {
  it('serves both -R forms and answers exec hello/tunnels with URLs', async () => {
    const ssh = opensshTunnel(kit, { sshPort: server.ports.ssh, envId: 'Shop-Main', account: alice, remote: [`web-80:80:127.0.0.1:${backend.port}`, `/api-3000:127.0.0.1:${backend.port}`] });
    const web = hostOf(alice, 'shop-main', 'web-80');
    const api = hostOf(alice, 'shop-main', 'api-3000');
    await waitFor('the OpenSSH forwards', async () => ((await get(proxy(), web)).status === 200 ? true : undefined));
    for (const host of [web, api.toUpperCase() + ':443']) {
      const reply = await get(proxy(), host, '/echo?q=1', { headers: { 'x-forwarded-for': '6.6.6.6' } });
      expect(reply.status).toBe(200);
      const seen = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
      expect(seen.url).toBe('/echo?q=1');
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen.headers['x-forwarded-proto']).toBe('http');
      expect(seen.headers['x-forwarded-host']).toBe(host);
    }
    for (const command of ['hello', 'tunnels']) {
      const out = await opensshExec({ sshPort: server.ports.ssh, envId: 'shop-main', account: alice, command });
      expect(out.code).toBe(0);
      const report = JSON.parse(out.stdout) as { accountId: string; envId: string; baseUrl: string; tunnels: Array<Record<string, unknown>> };
      expect(report).toMatchObject({ accountId: alice.accountId, envId: 'shop-main', baseUrl: `http://localhost:${proxy()}` });
      expect(report.tunnels).toEqual([
        { name: 'api-3000', service: 'api', port: 3000, hostname: api, url: `http://${api}:${proxy()}`, private: false },
        { name: 'web-80', service: 'web', port: 80, hostname: web, url: `http://${web}:${proxy()}`, private: false },
      ]);
    }
    // The exec-only connections above did not disturb the tunnels.
    expect((await get(proxy(), web)).status).toBe(200);
    expect(ssh.child.exitCode).toBeNull();
    const unknown = await opensshExec({ sshPort: server.ports.ssh, envId: 'shop-main', account: alice, command: 'rm -rf /' });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});

describe('the proxy over ssh2 forwards', () => {
  const env = 'proxy-env';
  let web: string;
  beforeAll(async () => {
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: env, account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }, { kind: 'streamlocal', path: '/files-8080' }] });
    web = hostOf(alice, env, 'web-80');
  });

  it('answers unknown hosts with a 404 page that names the cause', async () => {
    const reply = await get(proxy(), `nothing-here-${alice.accountId}.localhost`);
    expect(reply.status).toBe(404);
    expect(reply.body).toContain('No tunnel for this address');
    expect((await get(proxy(), hostOf(alice, env, 'files-8080'))).status).toBe(200);
  });

  it('reuses one SSH channel for 20 keep-alive requests on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await server.metric('prevu_tunnel_channels_opened_total');
    for (let i = 0; i < 20; i++) expect((await get(proxy(), web, `/echo?i=${i}`, { agent })).status).toBe(200);
    expect(await server.metric('prevu_tunnel_channels_opened_total')).toBe(before + 1);
    agent.destroy();
    // Closed by the browser side, or by the service (Connection: close): no channel stays open.
    expect((await get(proxy(), web, '/echo', { headers: { connection: 'close' } })).status).toBe(200);
    await waitFor('every channel closed', async () => ((await server.metric('prevu_tunnel_channels_open')) === 0 ? true : undefined));
  });

  it('carries a chunked request body and the next request on the same connection', async () => {
    const socket = net.connect(proxy(), '127.0.0.1');
    const body = 'abc';
    socket.write(`POST /upload HTTP/1.1\r\nHost: ${web}\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n${body}\r\n0\r\n\r\nGET /echo?second HTTP/1.1\r\nHost: ${web}\r\n\r\n`);
    let text = '';
    await waitFor('two responses', async () => {
      text += (socket.read() as Buffer | null)?.toString() ?? '';
      return text.includes('/echo?second') ? true : undefined;
    });
    socket.destroy();
    expect(text).toContain('{"bytes":3}');
  });

  it('upgrades a WebSocket and echoes', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy()}/socket`, { headers: { host: web } });
    const messages: string[] = [];
    ws.on('message', (d) => messages.push(d.toString()));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('ping through the tunnel');
    await waitFor('the echo', async () => (messages.length >= 2 ? true : undefined));
    expect(JSON.parse(messages[0]!).headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(messages[1]).toBe('ping through the tunnel');
    ws.close();
  });

  it('keeps checking requests after an upgrade the service refused', async () => {
    // A raw backend that answers every head with 200 and the head it saw (never 101).
    const raw = net.createServer((socket) => {
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        for (let end = seen.indexOf('\r\n\r\n'); end >= 0; end = seen.indexOf('\r\n\r\n')) {
          const head = seen.slice(0, end);
          seen = seen.slice(end + 4);
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(head)}\r\n\r\n${head}`);
        }
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    kit.defer('raw backend', () => new Promise((r) => raw.close(r)));
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: env, account: alice, target: (raw.address() as net.AddressInfo).port, forwards: [{ kind: 'tcpip', name: 'raw' }] });
    const host = hostOf(alice, env, 'raw');
    const socket = net.connect(proxy(), '127.0.0.1');
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await waitFor('the refused upgrade', async () => (text.includes('GET /ws') ? true : undefined));
    socket.write(`GET /next HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`);
    await waitFor('the next answer', async () => (text.includes('GET /next') ? true : undefined));
    socket.destroy();
    const second = text.slice(text.indexOf('GET /next'));
    expect(second).toContain('X-Forwarded-For: 127.0.0.1');
    expect(second).not.toContain('6.6.6.6');
  });

  it('passes SSE through unbuffered: the first event arrives while the stream is open', async () => {
    let ended = false;
    const first = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxy(), path: '/sse', headers: { host: web } }, (res) => {
        res.once('data', (d: Buffer) => resolve(d.toString()));
        res.on('end', () => (ended = true));
      });
      req.on('error', reject);
    });
    expect(first).toBe('data: first\n\n');
    expect(ended).toBe(false);
    backend.releaseSse();
  });

  it('streams 100 MiB down and up with backpressure (server RSS stays under 2x idle)', async () => {
    await resetPeakMemory(server.proc.pid);
    const idle = (await memoryOf(server.proc.pid)).rss;
    const down = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy(), path: '/big?mib=100', headers: { host: web } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
      }).on('error', reject);
    });
    expect(down).toBe(100 * 1024 * 1024);
    const up = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy(), path: '/upload', method: 'POST', headers: { host: web, 'content-length': String(100 * 1024 * 1024) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      writeChunks(req, Buffer.alloc(1024 * 1024, 'y'), 100);
    });
    expect(JSON.parse(up)).toEqual({ bytes: 100 * 1024 * 1024 });
    expect((await memoryOf(server.proc.pid)).peak).toBeLessThan(2 * idle);
  });
});

describe('accounts and names', () => {
  it('gives two accounts with the same envId and service different hostnames that never cross', async () => {
    const bobBackend = await startBackend(kit, 'bob-backend');
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'same', account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'same', account: bob, target: bobBackend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    const a = hostOf(alice, 'same', 'web-80');
    const b = hostOf(bob, 'same', 'web-80');
    expect(a).not.toBe(b);
    expect(JSON.parse((await get(proxy(), a)).body).label).toBe('alice-backend');
    expect(JSON.parse((await get(proxy(), b)).body).label).toBe('bob-backend');
    // One keep-alive connection asking both: each request still reaches its own account's tunnel.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (const [host, label] of [[a, 'alice-backend'], [b, 'bob-backend'], [a, 'alice-backend']] as const) {
      expect(JSON.parse((await get(proxy(), host, '/echo', { agent })).body).label).toBe(label);
    }
    agent.destroy();
  });

  it('refuses a forward whose label collides with another env of the key; the first keeps it and hello says why', async () => {
    const otherBackend = await startBackend(kit, 'second-env-backend');
    const first = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'x', account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-app' }] });
    const host = hostOf(alice, 'x', 'web-app');
    expect(hostOf(alice, 'app-x', 'web')).toBe(host);
    const second = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'app-x', account: alice, target: otherBackend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    expect(second.refused).toBe(1);
    expect(JSON.parse((await get(proxy(), host)).body).label).toBe('alice-backend');
    expect(first.isClosed()).toBe(false);
    const report = JSON.parse(await second.exec('hello')) as HelloReply;
    expect(report.tunnels).toEqual([]);
    expect(report.refused).toEqual([{ name: 'web', hostname: host, heldByEnv: 'x', reason: expect.stringMatching(/env "x" of this key/) }]);
    // The holder's own report is untouched.
    expect(JSON.parse(await first.exec('hello')).refused).toBeUndefined();
  });

  it('keeps every hostname within 63 characters, deterministically', async () => {
    const env = `feature-${'x'.repeat(70)}-branch`;
    const t = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: env, account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'frontend-3000' }] });
    const report = JSON.parse(await t.exec('hello')) as { tunnels: Array<{ hostname: string }> };
    const label = report.tunnels[0]!.hostname.split('.')[0]!;
    expect(label.length).toBeLessThanOrEqual(MAX_LABEL);
    expect(label).toBe(hostLabel('frontend-3000', env, alice.accountId));
    expect((await get(proxy(), report.tunnels[0]!.hostname)).status).toBe(200);
  });
});

describe('private tunnels', () => {
  let host: string;
  beforeAll(async () => {
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'secret', account: alice, target: backend.port, forwards: [{ kind: 'streamlocal', path: '/admin-80#access=private' }] });
    host = hostOf(alice, 'secret', 'admin-80');
  });

  it('refuses without a token, or with a token of another account or env', async () => {
    expect((await get(proxy(), host)).status).toBe(401);
    const foreign = await signAccessToken({ privateKey: bob.privateKey });
    expect((await get(proxy(), host, '/echo', { headers: { authorization: `Bearer ${foreign}` } })).status).toBe(401);
    const otherEnv = await signAccessToken({ privateKey: alice.privateKey, envId: 'not-secret' });
    expect((await get(proxy(), host, '/echo', { headers: { 'x-prevu-token': otherEnv } })).status).toBe(401);
  });

  it('allows a bearer token or the prevu header, and strips only prevu credentials', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey, envId: 'secret' });
    const bearer = JSON.parse((await get(proxy(), host, '/echo', { headers: { authorization: `Bearer ${token}` } })).body) as { headers: Record<string, string> };
    expect(bearer.headers.authorization).toBeUndefined();
    const header = JSON.parse((await get(proxy(), host, '/echo', { headers: { 'x-prevu-token': token, authorization: 'Basic dXNlcjpwYXNz' } })).body) as { headers: Record<string, string> };
    expect(header.headers['x-prevu-token']).toBeUndefined();
    expect(header.headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });

  it('keeps a request body and a pipelined request in order while the token is checked', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const socket = net.connect(proxy(), '127.0.0.1');
    const body = 'z'.repeat(5000);
    socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nX-Prevu-Token: ${token}\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /echo?after HTTP/1.1\r\nHost: ${host}\r\nX-Prevu-Token: ${token}\r\n\r\n`);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await waitFor('both answers', async () => (text.includes('/echo?after') ? true : undefined));
    socket.destroy();
    expect(text.indexOf('{"bytes":5000}')).toBeGreaterThan(0);
    expect(text.indexOf('{"bytes":5000}')).toBeLessThan(text.indexOf('/echo?after'));
  });

  it('exchanges a token for an HttpOnly cookie at /_prevu/login, also good for WebSocket', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const login = await get(proxy(), host, `/_prevu/login?token=${token}&next=/echo`);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/echo');
    const cookie = login.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^__Host-prevu_session=.+; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);
    const jar = `${cookie.split(';')[0]}; theme=dark`;
    const seen = JSON.parse((await get(proxy(), host, '/echo', { headers: { cookie: jar } })).body) as { headers: Record<string, string> };
    expect(seen.headers.cookie).toBe('theme=dark');
    expect((await get(proxy(), host, `/_prevu/login?token=garbage`)).status).toBe(401);

    const refused = new WebSocket(`ws://127.0.0.1:${proxy()}/`, { headers: { host } });
    const status = await new Promise<number>((resolve) => refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('error', () => undefined));
    expect(status).toBe(401);
    const ws = new WebSocket(`ws://127.0.0.1:${proxy()}/`, { headers: { host, cookie: jar } });
    const hello = await new Promise<string>((resolve, reject) => ws.once('message', (d) => resolve(d.toString())).once('error', reject));
    expect(JSON.parse(hello).headers.cookie).toBe('theme=dark');
    ws.close();
  });
});

describe('share links', () => {
  const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`share:${password}`).toString('base64')}` });
  const execAs = (on: TunnelServer, envId: string, privateKey = alice.privateKey) => ({ address: `127.0.0.1:${on.ports.ssh}`, privateKey, envId, recordedIn: 'test' });
  /** What `prevu share` does: the record goes to the server over SSH, the token names it. */
  async function shareLink(on: TunnelServer, envId: string, options: { password?: string; service?: string; ttlSeconds?: number } = {}): Promise<{ id: string; token: string }> {
    const id = randomBytes(18).toString('base64url');
    const ttlSeconds = options.ttlSeconds ?? 600;
    const record = options.password === undefined ? {} : await hashPassword(options.password);
    const scope = options.service === undefined ? {} : { service: options.service };
    await tunnelExec(execAs(on, envId), 'share-create', JSON.stringify({ id, ...scope, ...record, expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds }));
    return { id, token: await signAccessToken({ privateKey: alice.privateKey, envId, ttlSeconds, shareId: id }) };
  }
  const passwordLink = async (on: TunnelServer, envId: string, password: string) => (await shareLink(on, envId, { password })).token;
  let host: string;
  let other: string;
  beforeAll(async () => {
    await ssh2Tunnel(kit, {
      sshPort: server.ports.ssh,
      envId: 'guarded',
      account: alice,
      target: backend.port,
      forwards: [
        { kind: 'streamlocal', path: '/admin-80#access=private' },
        { kind: 'streamlocal', path: '/other-80#access=private' },
      ],
    });
    host = hostOf(alice, 'guarded', 'admin-80');
    other = hostOf(alice, 'guarded', 'other-80');
  });

  it("never open the env's agent API (its logs and events)", async () => {
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'guarded', account: alice, target: backend.port, forwards: [{ kind: 'streamlocal', path: '/prevu-agent#access=private' }] });
    const agent = hostOf(alice, 'guarded', 'prevu-agent');
    const { token: share } = await shareLink(server, 'guarded');
    expect((await get(proxy(), host, '/echo', { headers: { authorization: `Bearer ${share}` } })).status).toBe(200);
    expect((await get(proxy(), agent, '/echo', { headers: { authorization: `Bearer ${share}` } })).status).toBe(401);
    expect((await get(proxy(), agent, `/_prevu/login?token=${share}`)).status).toBe(401);
    const account = await signAccessToken({ privateKey: alice.privateKey, envId: 'guarded' });
    expect((await get(proxy(), agent, '/echo', { headers: { authorization: `Bearer ${account}` } })).status).toBe(200);
    // Not on one keep-alive connection either, after the token opened a service on it.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    kit.defer('keep-alive agent', () => keepAlive.destroy());
    const bearer = { authorization: `Bearer ${share}` };
    expect((await get(proxy(), host, '/echo', { headers: bearer, agent: keepAlive })).status).toBe(200);
    expect((await get(proxy(), agent, '/echo', { headers: bearer, agent: keepAlive })).status).toBe(401);
  });

  it('are records: listed per key, scoped to a service, revoked at once (cookies and keep-alive connections included)', async () => {
    const whole = await shareLink(server, 'guarded');
    const scoped = await shareLink(server, 'guarded', { service: 'admin' });
    const listed = JSON.parse((await tunnelExec(execAs(server, 'anything'), 'share-ls')).stdout) as Array<{ id: string; envId: string; service?: string; password: boolean }>;
    expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ id: whole.id, envId: 'guarded', password: false }), expect.objectContaining({ id: scoped.id, service: 'admin' })]));
    expect(JSON.stringify(listed)).not.toMatch(/salt|hash/);
    // Another key lists none of them, and cannot revoke them.
    expect(JSON.parse((await tunnelExec(execAs(server, 'anything', bob.privateKey), 'share-ls')).stdout)).toEqual([]);
    expect(JSON.parse((await tunnelExec(execAs(server, 'anything', bob.privateKey), 'share-rm', JSON.stringify({ id: whole.id }))).stdout)).toEqual({ ok: true, revoked: false });

    // The scoped link opens its service only.
    expect((await get(proxy(), host, '/echo', { headers: { authorization: `Bearer ${scoped.token}` } })).status).toBe(200);
    expect((await get(proxy(), other, '/echo', { headers: { authorization: `Bearer ${scoped.token}` } })).status).toBe(401);
    expect((await get(proxy(), other, `/_prevu/login?token=${scoped.token}`)).headers['x-prevu-error']).toBe('Unknown share link');

    const login = await get(proxy(), other, `/_prevu/login?token=${whole.token}`);
    expect(login.status).toBe(302);
    const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    kit.defer('keep-alive agent', () => keepAlive.destroy());
    expect((await get(proxy(), other, '/echo', { headers: { cookie }, agent: keepAlive })).status).toBe(200);
    expect(JSON.parse((await tunnelExec(execAs(server, 'anything'), 'share-rm', JSON.stringify({ id: whole.id }))).stdout)).toEqual({ ok: true, revoked: true });
    expect((await get(proxy(), other, '/echo', { headers: { cookie }, agent: keepAlive })).status).toBe(401);
    expect((await get(proxy(), other, '/echo', { headers: { cookie } })).status).toBe(401);
    expect((await get(proxy(), other, `/_prevu/login?token=${whole.token}`)).headers['x-prevu-error']).toBe('Unknown share link');
    expect((JSON.parse((await tunnelExec(execAs(server, 'anything'), 'share-ls')).stdout) as Array<{ id: string }>).map((l) => l.id)).not.toContain(whole.id);
    // The other link is untouched; a token naming an id this server never kept opens nothing.
    expect((await get(proxy(), host, '/echo', { headers: { authorization: `Bearer ${scoped.token}` } })).status).toBe(200);
    const stranger = await signAccessToken({ privateKey: alice.privateKey, envId: 'guarded', shareId: randomBytes(18).toString('base64url') });
    expect((await get(proxy(), host, '/echo', { headers: { authorization: `Bearer ${stranger}` } })).status).toBe(401);
  });

  it('with a password: the token carries only an id, the browser prompt asks, only the cookie opens', async () => {
    const token = await passwordLink(server, 'guarded', 'correct horse');
    const payload = Buffer.from(token.split('.')[1]!, 'base64url').toString();
    expect(payload).not.toMatch(/salt|hash|correct/);
    // The token alone opens nothing: not as a bearer, not as the prevu header, not as a cookie.
    for (const headers of [{ authorization: `Bearer ${token}` }, { 'x-prevu-token': token }, { cookie: `__Host-prevu_session=${token}` }]) {
      expect((await get(proxy(), host, '/echo', { headers })).status).toBe(401);
    }
    const login = `/_prevu/login?token=${token}&next=/echo`;
    const asked = await get(proxy(), host, login);
    expect(asked.status).toBe(401);
    expect(asked.headers['www-authenticate']).toBe('Basic realm="prevu share link", charset="UTF-8"');
    expect(asked.headers['x-prevu-error']).toBe('Password needed');
    const wrong = await get(proxy(), host, login, { headers: basic('wrong horse') });
    expect([wrong.status, wrong.headers['x-prevu-error']]).toEqual([401, 'Wrong password']);

    const right = await get(proxy(), host, login, { headers: basic('correct horse') });
    expect(right.status).toBe(302);
    const cookie = right.headers['set-cookie']![0]!.split(';')[0]!;
    const seen = JSON.parse((await get(proxy(), host, '/echo', { headers: { cookie } })).body) as { headers: Record<string, string> };
    expect(seen.headers.cookie).toBeUndefined();
    // The proof belongs to that token: pasted onto another password token it opens nothing.
    const proof = cookie.split('~')[1]!;
    const other = await passwordLink(server, 'guarded', 'correct horse');
    expect((await get(proxy(), host, '/echo', { headers: { cookie: `__Host-prevu_session=${other}~${proof}` } })).status).toBe(401);
    // A token whose id this server never registered (made for another server) says so.
    const stranger = await signAccessToken({ privateKey: alice.privateKey, envId: 'guarded', shareId: randomBytes(18).toString('base64url') });
    const unknown = await get(proxy(), host, `/_prevu/login?token=${stranger}`, { headers: basic('correct horse') });
    expect([unknown.status, unknown.headers['x-prevu-error']]).toEqual([401, 'Unknown share link']);
  });

  it('stop checking a link after 10 wrong passwords in a minute (429), bursts and re-spelled tokens included', async () => {
    const token = await passwordLink(server, 'guarded', 'correct horse');
    const login = (t: string) => `/_prevu/login?token=${t}`;
    // 12 guesses at once, each on its own connection: 10 are checked, the rest are refused unchecked.
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => get(proxy(), host, login(token), { headers: basic(`guess ${i}`) })));
    expect(burst.map((r) => r.status).sort()).toEqual([...Array(10).fill(401), 429, 429]);
    const blocked = await get(proxy(), host, login(token), { headers: basic('correct horse') });
    expect([blocked.status, blocked.headers['retry-after']]).toEqual([429, '60']);
    // The same token spelled otherwise is not a fresh link.
    for (const respelled of [`${token}%20`, `${token}%3D%3D`]) expect((await get(proxy(), host, login(respelled), { headers: basic('correct horse') })).status).toBe(401);
    const another = await passwordLink(server, 'guarded', 'correct horse');
    expect((await get(proxy(), host, login(another), { headers: basic('correct horse') })).status).toBe(302);
  });

  it('keep passwords and sessions across a restart with the same state dir; another server takes neither', async () => {
    const first = await startTunnelServer(kit);
    const forward: Forward = { kind: 'streamlocal', path: '/web-80#access=private' };
    const t = await ssh2Tunnel(kit, { sshPort: first.ports.ssh, envId: 'kept', account: alice, target: backend.port, forwards: [forward] });
    const token = await passwordLink(first, 'kept', 'correct horse');
    const kept = hostOf(alice, 'kept', 'web-80');
    const login = await get(first.ports.http, kept, `/_prevu/login?token=${token}`, { headers: basic('correct horse') });
    const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    expect((await get(first.ports.http, kept, '/echo', { headers: { cookie } })).status).toBe(200);
    t.close();
    await first.proc.stop();
    for (const [stateDir, status, again] of [[first.stateDir, 200, 302], [undefined, 401, 401]] as const) {
      const next = await startTunnelServer(kit, stateDir ? { stateDir } : {});
      await ssh2Tunnel(kit, { sshPort: next.ports.ssh, envId: 'kept', account: alice, target: backend.port, forwards: [forward] });
      expect((await get(next.ports.http, kept, '/echo', { headers: { cookie } })).status, stateDir ?? 'a fresh state dir').toBe(status);
      expect((await get(next.ports.http, kept, `/_prevu/login?token=${token}`, { headers: basic('correct horse') })).status, stateDir ?? 'a fresh state dir').toBe(again);
      await next.proc.stop();
    }
  });

  it('refuse a malformed registration in one line, and make a short secret file anew', async () => {
    const options = execAs(server, 'guarded');
    await expect(tunnelExec(options, 'share-create', '{"id":"short"}')).rejects.toThrow(/share-create: id: /);
    // What an older server says to a command it does not know, as the CLI prints it: one line with the way out.
    await expect(tunnelExec(options, 'not-a-command')).rejects.toMatchObject({ code: 'PREVU_TUNNEL_COMMAND_FAILED', exitCode: 2, message: expect.stringContaining('did not carry out `not-a-command` (prevu: unknown command') });
    await expect(tunnelExec(options, 'share-create', 'not json')).rejects.toThrow(/reads one JSON object on stdin/);
    await expect(tunnelExec(options, 'share-create', 'x'.repeat(5000))).rejects.toThrow(/takes at most 4096 bytes/);
    const record = { id: randomBytes(18).toString('base64url'), ...(await hashPassword('correct horse')) };
    await expect(tunnelExec(options, 'share-create', JSON.stringify({ ...record, expiresAt: Math.floor(Date.now() / 1000) + 200 * 3600 }))).rejects.toThrow(/more than 168 h away/);
    // A client that goes away mid-registration (no EOF) leaves a server that still answers.
    const client = new ssh2.Client();
    await new Promise<void>((ready, failed) => client.once('ready', ready).once('error', failed).connect({ host: '127.0.0.1', port: server.ports.ssh, username: 'guarded', privateKey: alice.privateKey }));
    await new Promise<void>((sent) => client.exec('share-create', (error, stream) => (error ? sent() : stream.write('not json', () => sent()))));
    client.destroy();
    await expect(tunnelExec(options, 'hello')).resolves.toMatchObject({ stdout: expect.stringContaining('"envId":"guarded"') });
    const stateDir = mkdtempSync(join(tmpdir(), 'prevu-state-'));
    writeFileSync(join(stateDir, 'share_session_secret'), '');
    await startTunnelServer(kit, { stateDir });
    expect(readFileSync(join(stateDir, 'share_session_secret'))).toHaveLength(32);
  });
});

describe('reconnects and takeovers', () => {
  it('kill -9 of the client gives a 502 page, a reconnect brings 200 back on the same hostname', async () => {
    const ssh = opensshTunnel(kit, { sshPort: server.ports.ssh, envId: 'crashy', account: alice, remote: [`web-80:80:127.0.0.1:${backend.port}`] });
    const host = hostOf(alice, 'crashy', 'web-80');
    await waitFor('the forward', async () => ((await get(proxy(), host)).status === 200 ? true : undefined));
    ssh.child.kill('SIGKILL');
    const gone = await waitFor('the 502 page', async () => {
      const r = await get(proxy(), host);
      return r.status === 502 ? r : undefined;
    });
    expect(gone.body).toContain('Tunnel gone');
    opensshTunnel(kit, { sshPort: server.ports.ssh, envId: 'crashy', account: alice, remote: [`web-80:80:127.0.0.1:${backend.port}`] });
    await waitFor('200 after the reconnect', async () => ((await get(proxy(), host)).status === 200 ? true : undefined));
  });

  it('a newer connection of the same key+env takes over a name; the older one is told why and closed', async () => {
    const first = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'twice', account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    const otherBackend = await startBackend(kit, 'newer-backend');
    const host = hostOf(alice, 'twice', 'web-80');
    expect(JSON.parse((await get(proxy(), host)).body).label).toBe('alice-backend');
    // An exec-only connection of the same key+env (what the CLI opens) changes nothing.
    const cli = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'twice', account: alice, target: 1, forwards: [] });
    expect(JSON.parse(await cli.exec('tunnels')).tunnels).toHaveLength(1);
    cli.close();
    expect(first.isClosed()).toBe(false);
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'twice', account: alice, target: otherBackend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    expect(JSON.parse((await get(proxy(), host)).body).label).toBe('newer-backend');
    await waitFor('the old client closed', async () => (first.isClosed() ? true : undefined));
    expect(first.errors.join()).toMatch(/prevu-takeover/);
  });

  it('names a service that is not reachable behind a live tunnel', async () => {
    const dead = await freePort();
    opensshTunnel(kit, { sshPort: server.ports.ssh, envId: 'dead', account: alice, remote: [`web-80:80:127.0.0.1:${dead}`] });
    const viaOpenssh = await waitFor('the 503 page', async () => {
      const r = await get(proxy(), hostOf(alice, 'dead', 'web-80'));
      return r.status === 503 ? r : undefined;
    });
    expect(viaOpenssh.headers['retry-after']).toBe('5');
    expect(viaOpenssh.body).toContain('did not accept the connection');
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'dead2', account: alice, target: dead, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    const viaSsh2 = await get(proxy(), hostOf(alice, 'dead2', 'web-80'));
    expect(viaSsh2.status).toBe(502);
    expect(viaSsh2.body).toContain('without answering');
  });

  it('a cancelled forward is released at once (404) while the connection stays up', async () => {
    const forwards: Forward[] = [{ kind: 'tcpip', name: 'web-80' }, { kind: 'streamlocal', path: '/api-3000' }, { kind: 'tcpip', name: 'docs' }];
    const t = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'tidy', account: alice, target: backend.port, forwards });
    const [web, api, docs] = ['web-80', 'api-3000', 'docs'].map((name) => hostOf(alice, 'tidy', name)) as [string, string, string];
    for (const host of [web, api, docs]) expect((await get(proxy(), host)).status).toBe(200);
    await t.unforward(forwards[0]!);
    await t.unforward(forwards[1]!);
    for (const host of [web, api]) {
      const reply = await get(proxy(), host);
      expect(reply.status, host).toBe(404);
      expect(reply.body).toContain('No tunnel for this address');
    }
    expect((await get(proxy(), docs)).status).toBe(200);
    // A clean end after cancelling the rest: nothing is remembered as gone.
    await t.unforward(forwards[2]!);
    t.close();
    await waitFor('the connection to close', async () => (t.isClosed() ? true : undefined));
    for (const host of [web, api, docs]) expect((await get(proxy(), host)).status, host).toBe(404);
  });

  it('a request that races the cancel of its forward is told the name is unknown (404), not "tunnel gone"', async () => {
    const forward: Forward = { kind: 'tcpip', name: 'web-80' };
    const t = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'racing', account: alice, target: backend.port, forwards: [forward] });
    // The client cancels the forward while the server's channel open is in flight, then refuses it.
    t.client.removeAllListeners('tcp connection');
    t.client.on('tcp connection', (_info, _accept, reject) => void t.unforward(forward).then(() => reject()));
    const reply = await get(proxy(), hostOf(alice, 'racing', 'web-80'));
    expect(reply.status).toBe(404);
    expect(reply.body).toContain('No tunnel for this address');
  });

  it('a name that went away (502) and was then taken and cancelled is unknown (404)', async () => {
    const first = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'again', account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    const host = hostOf(alice, 'again', 'web-80');
    first.close();
    await waitFor('the 502 page', async () => ((await get(proxy(), host)).status === 502 ? true : undefined));
    const second = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'again', account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    expect((await get(proxy(), host)).status).toBe(200);
    await second.unforward({ kind: 'tcpip', name: 'web-80' });
    expect((await get(proxy(), host)).status).toBe(404);
  });

  it('answers 503 with Retry-After while a reconnected env has not registered the name yet', async () => {
    const t = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'slow', account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    const host = hostOf(alice, 'slow', 'web-80');
    t.close();
    await waitFor('the 502 page', async () => ((await get(proxy(), host)).status === 502 ? true : undefined));
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'slow', account: alice, target: backend.port, forwards: [] });
    const reply = await get(proxy(), host);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('2');
  });
});
