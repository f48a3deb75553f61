// What a hostile visitor or a neighbour tenant sends the HTTP front: login redirects that try to
// split the head or leave the origin, planted session cookies, cross-origin WebSockets to the
// agent, prevu credentials aimed at an app, absolute-form targets, bare-LF chunked framing, and
// plain HTTP when TLS is on.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signAccessToken } from '@prevu/core/access-token';
import { startTunnelServer, useKit, type TunnelServer } from '@prevu/test-kit';
import { envOfEveryKind, get, hostOf, makeAccount, ssh2Tunnel, startBackend } from './harness.js';

const kit = useKit();
const alice = makeAccount();
let server: TunnelServer;
let privateHost: string;
let publicHost: string;
let agentHost: string;

/** Sends raw bytes, returns everything the server answered until it closed (or 5 s passed). */
function raw(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
    let text = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', () => undefined);
  });
}

beforeAll(async () => {
  server = await startTunnelServer(kit);
  const backend = await startBackend(kit);
  ({ privateHost, publicHost, agentHost } = await envOfEveryKind(kit, { sshPort: server.ports.ssh, envId: 'env', account: alice, target: backend.port }));
});

describe('/_prevu/login', () => {
  it('redirects only to a path of the same origin and never splits the head', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const cases: Array<[string, string]> = [
      ['/echo%3Fa%3D1', '/echo?a=1'],
      ['/%0D%0ASet-Cookie:%20evil=1', '/'],
      ['/ok%0AX-Evil:%201', '/'],
      ['/\\evil.example', '/'],
      ['//evil.example/', '/'],
      ['/\\/evil.example', '/'],
      ['http://evil.example/', '/'],
      ['/caf%C3%A9', '/caf%C3%A9'],
    ];
    for (const [next, location] of cases) {
      const text = await raw(server.ports.http, `GET /_prevu/login?token=${token}&next=${next} HTTP/1.1\r\nHost: ${privateHost}\r\n\r\n`);
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      expect(head, next).toMatch(/^HTTP\/1\.1 302 /);
      expect(head.split('\r\n').find((l) => l.startsWith('Location:')), next).toBe(`Location: ${location}`);
      expect(head).not.toMatch(/evil/i);
    }
  });
});

describe('session cookies', () => {
  it('are __Host- and Secure, and a junk cookie planted beside the good one never blocks it', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey, envId: 'env' });
    const login = await get(server.ports.http, privateHost, `/_prevu/login?token=${token}`);
    const cookie = login.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^__Host-prevu_session=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);
    const good = cookie.split(';')[0]!;
    // A sibling tenant's app can set cookies for the whole base domain: prevu_session, even
    // a junk __Host- one reaching us first through another path. Every one is tried.
    const jar = `prevu_session=junk; __Host-prevu_session=junk.junk.junk; ${good}; theme=dark`;
    const reply = await get(server.ports.http, privateHost, '/echo', { headers: { cookie: jar } });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).headers.cookie).toBe('theme=dark');
    // The old cookie name opens nothing: anyone under the base domain can set it.
    expect((await get(server.ports.http, privateHost, '/echo', { headers: { cookie: `prevu_session=${token}` } })).status).toBe(401);
  });
});

describe('prevu credentials never reach an app', () => {
  it('strips prevu bearer tokens, its header and cookies on a public tunnel; another Authorization passes', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const foreign = await signAccessToken({ privateKey: makeAccount().privateKey });
    for (const authorization of [`Bearer ${token}`, `Bearer ${foreign}`]) {
      const seen = JSON.parse((await get(server.ports.http, publicHost, '/echo', { headers: { authorization, 'x-prevu-token': token, cookie: `__Host-prevu_session=${token}; prevu_session=${token}; a=b` } })).body) as { headers: Record<string, string> };
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['x-prevu-token']).toBeUndefined();
      expect(seen.headers.cookie).toBe('a=b');
    }
    const basic = JSON.parse((await get(server.ports.http, publicHost, '/echo', { headers: { authorization: 'Bearer not-a-prevu-token' } })).body) as { headers: Record<string, string> };
    expect(basic.headers.authorization).toBe('Bearer not-a-prevu-token');
  });

  it('strips a prevu bearer token of another account on a private tunnel opened by the cookie', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const foreign = await signAccessToken({ privateKey: makeAccount().privateKey });
    const seen = JSON.parse((await get(server.ports.http, privateHost, '/echo', { headers: { 'x-prevu-token': token, authorization: `Bearer ${foreign}` } })).body) as { headers: Record<string, string> };
    expect(seen.headers.authorization).toBeUndefined();
  });
});

describe("WebSocket to the agent's API", () => {
  it('opens without an Origin (the CLI) or from its own origin, never from another', async () => {
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const open = (origin?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.ports.http}/events`, { headers: { host: agentHost, 'x-prevu-token': token, ...(origin ? { origin } : {}) } });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    expect(await open()).toBe(101);
    expect(await open(`http://${agentHost}`)).toBe(101);
    expect(await open(`http://${publicHost}`)).toBe(403);
    expect(await open('null')).toBe(403);
    expect(await open(`https://${agentHost}`)).toBe(403);
  });
});

describe('request targets and framing', () => {
  it('rewrites an absolute-form target of the Host to a path and refuses one of another host', async () => {
    const ok = await raw(server.ports.http, `GET http://${publicHost}/echo?a=1 HTTP/1.1\r\nHost: ${publicHost}\r\nConnection: close\r\n\r\n`);
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(ok).toContain('"url":"/echo?a=1"');
    expect(await raw(server.ports.http, `GET http://${privateHost}/echo HTTP/1.1\r\nHost: ${publicHost}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(server.ports.http, `GET echo HTTP/1.1\r\nHost: ${publicHost}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('closes at once when the client ends in the middle of a head (not after the 30 s head timer)', async () => {
    const socket = net.connect(server.ports.http, '127.0.0.1', () => socket.end(`GET / HTTP/1.1\r\nHost: ${publicHost}\r\nX-Half: `));
    socket.on('error', () => undefined);
    socket.resume();
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    socket.destroy();
    expect(closed).toBe(true);
  });

  it('refuses a chunked body with a bare LF', async () => {
    const text = await raw(server.ports.http, `POST /upload HTTP/1.1\r\nHost: ${publicHost}\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n`);
    // prevu refuses it (a backend might read the body otherwise than the proxy did).
    expect(text).toMatch(/^HTTP\/1\.1 400 [^]*X-Prevu-Error/);
    expect(text).not.toContain('"bytes"');
  });
});

describe('TLS on', () => {
  it('answers plain HTTP only with a redirect to https, private envs included', async () => {
    const tls = await startTunnelServer(kit, { baseDomain: 'example.test', devTls: true });
    const backend = await startBackend(kit);
    await ssh2Tunnel(kit, { sshPort: tls.ports.ssh, envId: 'env', account: alice, target: backend.port, forwards: [{ kind: 'streamlocal', path: '/admin-80#access=private' }] });
    const host = hostOf(alice, 'env', 'admin-80', 'example.test');
    const token = await signAccessToken({ privateKey: alice.privateKey });
    const reply = await get(tls.ports.http, host, '/echo?q=1', { headers: { authorization: `Bearer ${token}` } });
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe(`https://${host}:${tls.ports.https}/echo?q=1`);
    expect(reply.body).toBe('');
    // Only hosts under the base domain: the plain port is no open redirect.
    for (const other of ['evil.example', `evil.example/${host}`, 'example.test.evil']) expect((await get(tls.ports.http, other)).status, other).toBe(404);
  });
});
