// HTTP/2 through real tunnels: ALPN h2 on the TLS port to an HTTP/1.1 service (routing by
// :authority, X-Forwarded-*, private access, login, error pages, channel reuse), gRPC over h2c
// (@grpc/grpc-js on both ends, unary and bidi streaming, private, over TLS and over the plain
// port by prior knowledge), and HTTP/2's abuse bounds with hand-written frames: too many streams,
// rapid reset and a CONTINUATION flood each close the session, and the server serves on.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { signAccessToken } from '@prevu/core/access-token';
import { startTunnelServer, useKit, waitFor } from '@prevu/test-kit';
import { chat, grpcClient, h2connect, h2request, startGrpcEcho, unary } from './h2-kit.js';
import { get, hostOf, makeAccount, ssh2Tunnel, startBackend } from './harness.js';

const kit = useKit();
const BASE = 'example.test';

describe('HTTP/2', () => {
  it('serves ALPN h2 to an HTTP/1.1 service and gRPC over h2c, with private access on both', async () => {
    const server = await startTunnelServer(kit, { baseDomain: BASE, devTls: true });
    const ca = readFileSync(server.caPath!);
    const backend = await startBackend(kit);
    const grpcPort = await startGrpcEcho(kit);
    const account = makeAccount();
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'h2', account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }, { kind: 'streamlocal', path: '/admin-80#access=private' }] });
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'rpc', account, target: grpcPort, forwards: [{ kind: 'tcpip', name: 'grpc-50051#proto=h2c' }, { kind: 'streamlocal', path: '/vault-50051#access=private&proto=h2c' }] });
    const web = hostOf(account, 'h2', 'web', BASE);
    const admin = hostOf(account, 'h2', 'admin-80', BASE);
    const opened = await server.metric('prevu_tunnel_channels_opened_total');

    // A browser's way in: ALPN h2, one session for every host it asks.
    const session = await h2connect(kit, `https://127.0.0.1:${server.ports.https}`, { ca, servername: web });
    expect(session.alpnProtocol).toBe('h2');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => h2request(session, web, `/echo?n=${i}`)));
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).toBe(200);
      const echoed = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
      expect(echoed.url).toBe(`/echo?n=${i}`);
      expect(echoed.headers).toMatchObject({ host: web, 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': web, 'x-forwarded-port': '443' });
    }
    // 20 streams at once went over keep-alive HTTP/1.1 channels, at most 16 of them.
    const channels = (await server.metric('prevu_tunnel_channels_opened_total')) - opened;
    expect(channels).toBeGreaterThan(0);
    expect(channels).toBeLessThanOrEqual(16);
    // One after another, streams reuse one kept-alive channel.
    const before = await server.metric('prevu_tunnel_channels_opened_total');
    for (let i = 0; i < 20; i++) expect((await h2request(session, web, '/echo')).status).toBe(200);
    expect((await server.metric('prevu_tunnel_channels_opened_total')) - before).toBe(0);
    // A body both ways, a forged X-Forwarded-For replaced, a missing host named.
    const upload = await h2request(session, web, '/upload', {}, Buffer.alloc(3 * 1024 * 1024, 'u'));
    expect(JSON.parse(upload.body)).toEqual({ bytes: 3 * 1024 * 1024 });
    expect((await h2request(session, web, '/big?mib=2')).body.length).toBe(2 * 1024 * 1024);
    const forged = JSON.parse((await h2request(session, web, '/echo', { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6' })).body) as { headers: Record<string, string> };
    expect(forged.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(forged.headers.forwarded).toBeUndefined();
    const missing = await h2request(session, hostOf(account, 'h2', 'nothing', BASE), '/');
    expect(missing.status).toBe(404);
    expect(missing.headers['x-prevu-error']).toBe('No tunnel for this address');

    // Private access over h2: refused without a token; a bearer token opens it and never reaches the app; login sets the cookie.
    expect((await h2request(session, admin, '/echo')).status).toBe(401);
    const token = await signAccessToken({ privateKey: account.privateKey, envId: 'h2' });
    const withBearer = await h2request(session, admin, '/echo', { authorization: `Bearer ${token}` });
    expect(withBearer.status).toBe(200);
    expect((JSON.parse(withBearer.body) as { headers: Record<string, string> }).headers.authorization).toBeUndefined();
    const other = await signAccessToken({ privateKey: makeAccount().privateKey, envId: 'h2' });
    expect((await h2request(session, admin, '/echo', { authorization: `Bearer ${other}` })).status).toBe(401);
    const login = await h2request(session, admin, `/_prevu/login?token=${token}&next=/echo`);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/echo');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const withCookie = await h2request(session, admin, '/echo', { cookie: `${cookie}; theme=dark` });
    expect(withCookie.status).toBe(200);
    expect((JSON.parse(withCookie.body) as { headers: Record<string, string> }).headers.cookie).toBe('theme=dark');
    // HTTP/1.1 over TLS still works beside it (node's https offers no ALPN), and the plain port redirects.
    const overH1 = await new Promise<number>((resolve, reject) =>
      https.get({ host: '127.0.0.1', port: server.ports.https, path: '/echo', servername: web, ca, headers: { host: web }, agent: false }, (res) => resolve(res.resume().statusCode ?? 0)).on('error', reject),
    );
    expect(overH1).toBe(200);
    expect((await get(server.ports.http, web)).status).toBe(308);

    // gRPC through the TLS port to an h2c service: unary, then bidi streaming.
    const rpcHost = hostOf(account, 'rpc', 'grpc-50051', BASE);
    const client = grpcClient(kit, server.ports.https!, rpcHost, ca);
    expect(await unary(client, 'hello')).toEqual({ message: 'hello', proto: 'https', for: '127.0.0.1', auth: 0 });
    const answers = await chat(client, ['one', 'two', 'three']);
    expect(answers.map((a) => a.message)).toEqual(['one', 'two', 'three']);
    // A private gRPC service: UNAUTHENTICATED without the token, served with it (and the token stripped).
    const vault = grpcClient(kit, server.ports.https!, hostOf(account, 'rpc', 'vault-50051', BASE), ca);
    await expect(unary(vault, 'secret')).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const rpcToken = new grpc.Metadata();
    rpcToken.set('authorization', `Bearer ${await signAccessToken({ privateKey: account.privateKey, envId: 'rpc' })}`);
    expect(await unary(vault, 'secret', rpcToken)).toMatchObject({ message: 'secret', auth: 0 });
    expect((await chat(vault, ['a', 'b'], rpcToken)).map((a) => a.message)).toEqual(['a', 'b']);
  });

  it('speaks h2c by prior knowledge on the plain port (gRPC without TLS)', async () => {
    const server = await startTunnelServer(kit);
    const grpcPort = await startGrpcEcho(kit);
    const backend = await startBackend(kit);
    const account = makeAccount();
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'plain', account, target: grpcPort, forwards: [{ kind: 'tcpip', name: 'grpc-50051#proto=h2c' }] });
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'plainweb', account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    const client = grpcClient(kit, server.ports.http, hostOf(account, 'plain', 'grpc-50051'));
    expect(await unary(client, 'clear')).toMatchObject({ message: 'clear', proto: 'http' });
    expect((await chat(client, ['x', 'y'])).map((a) => a.message)).toEqual(['x', 'y']);
    const session = await h2connect(kit, `http://127.0.0.1:${server.ports.http}`);
    const reply = await h2request(session, hostOf(account, 'plainweb', 'web'), '/echo');
    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.body) as { headers: Record<string, string> }).headers['x-forwarded-proto']).toBe('http');
    // HTTP/1.1 on the same port is unchanged.
    expect((await get(server.ports.http, hostOf(account, 'plainweb', 'web'))).status).toBe(200);

    // A gRPC server that ends each connection after 200 ms (GOAWAY): later calls get a new session, never an error.
    const agingPort = await startGrpcEcho(kit, { 'grpc.max_connection_age_ms': 200, 'grpc.max_connection_age_grace_ms': 100 });
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'aging', account, target: agingPort, forwards: [{ kind: 'tcpip', name: 'grpc-50051#proto=h2c' }] });
    const aging = grpcClient(kit, server.ports.http, hostOf(account, 'aging', 'grpc-50051'));
    const opened = await server.metric('prevu_tunnel_channels_opened_total');
    for (let i = 0; i < 8; i++) {
      expect(await unary(aging, `call ${i}`)).toMatchObject({ message: `call ${i}` });
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(await server.metric('prevu_tunnel_channels_opened_total')).toBeGreaterThan(opened + 1);
  });

  it('cancels a request body slower than --min-body-bytes-per-second, like HTTP/1.1', async () => {
    const server = await startTunnelServer(kit, { args: ['--head-timeout-seconds', '1', '--min-body-bytes-per-second', '1024'] });
    const backend = await startBackend(kit);
    const account = makeAccount();
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'slow', account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    const host = hostOf(account, 'slow', 'web');
    const session = await h2connect(kit, `http://127.0.0.1:${server.ports.http}`);
    // 10 bytes every 200 ms (50 B/s), at most 50 times, and no end: only the server can close it.
    const stream = session.request({ ':authority': host, ':path': '/upload', ':method': 'POST' }, { endStream: false });
    stream.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode ?? -1)));
    let writes = 0;
    const drip = setInterval(() => (++writes > 50 || stream.destroyed ? clearInterval(drip) : stream.write(Buffer.alloc(10, 's'))), 200);
    kit.defer('drip', () => clearInterval(drip));
    expect(await closed).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(await server.metric('prevu_limit_refusals_total{limit="min_body_rate"}')).toBe(1);
    // A body at full speed on the same session passes.
    const fast = await h2request(session, host, '/upload', {}, Buffer.alloc(256 * 1024, 'f'));
    expect(JSON.parse(fast.body)).toEqual({ bytes: 256 * 1024 });
  });

  it('keeps channels to at most 8 services per connection (browsers put every host of the wildcard on one)', async () => {
    const server = await startTunnelServer(kit);
    const backend = await startBackend(kit);
    const account = makeAccount();
    const names = Array.from({ length: 12 }, (_, i) => `s${i}`);
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'many', account, target: backend.port, forwards: names.map((name) => ({ kind: 'tcpip' as const, name })) });
    const session = await h2connect(kit, `http://127.0.0.1:${server.ports.http}`);
    for (const name of names) expect((await h2request(session, hostOf(account, 'many', name), '/echo')).status).toBe(200);
    // Each service kept its channel alive until a ninth needed room: the oldest idle ones let go.
    await waitFor('idle channels to be let go', async () => ((await server.metric('prevu_tunnel_channels_open')) <= 8 ? true : undefined));
    expect(await server.metric('prevu_tunnel_channels_opened_total')).toBe(12);
    // The first service is asked again: served, on a new channel.
    expect((await h2request(session, hostOf(account, 'many', 's0'), '/echo')).status).toBe(200);
  });
});

// Raw HTTP/2 frames, for what a well-behaved client library never sends.
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const TYPE = { HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, CONTINUATION: 9 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK for GET http://<host><path>: static-table :method GET and :scheme http, literal :authority and :path. */
function requestBlock(host: string, path: string): Buffer {
  const literal = (index: number, value: string) => Buffer.concat([Buffer.from([index, value.length]), Buffer.from(value)]);
  return Buffer.concat([Buffer.from([0x82, 0x86]), literal(1, host), literal(4, path)]);
}

/**
 * Writes the preface then `frames` (bounded), and says whether the server closed the session: the
 * client never closes first (after its last frame it waits 5 s, then gives up).
 */
function flood(port: number, frames: Iterable<Buffer>): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let closed = false;
    socket.resume();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      resolve(true);
    });
    socket.once('connect', () => {
      socket.write(Buffer.concat([PREFACE, frame(TYPE.SETTINGS, 0, 0)]));
      const iterator = frames[Symbol.iterator]();
      const pump = () => {
        while (!closed && !socket.destroyed) {
          const next = iterator.next();
          if (next.done) {
            setTimeout(() => (closed ? undefined : (socket.destroy(), resolve(false))), 5000);
            return;
          }
          if (!socket.write(next.value)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
  });
}

describe('HTTP/2 abuse bounds', () => {
  it('closes a session that opens too many streams, resets them in a flood, or never ends a header block', async () => {
    const server = await startTunnelServer(kit, { args: ['--max-streams-per-connection', '10'] });
    const backend = await startBackend(kit);
    const account = makeAccount();
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'abuse', account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    const host = hostOf(account, 'abuse', 'web');

    // Streams held open (an event stream each) far past the 10 allowed: refused, then the session is closed.
    const held = function* () {
      for (let i = 0; i < 1000; i++) yield frame(TYPE.HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, requestBlock(host, '/sse'));
    };
    expect(await flood(server.ports.http, held())).toBe(true);

    // Rapid reset: a request and its cancel, again and again.
    const resets = function* () {
      const cancel = Buffer.alloc(4);
      cancel.writeUInt32BE(0x8);
      for (let i = 0; i < 20_000; i++) {
        yield frame(TYPE.HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, requestBlock(host, '/echo'));
        yield frame(TYPE.RST_STREAM, 0, 1 + 2 * i, cancel);
      }
    };
    expect(await flood(server.ports.http, resets())).toBe(true);
    expect(await server.metric('prevu_limit_refusals_total{limit="h2_resets"}')).toBe(1);

    // A header block that never ends: CONTINUATION after CONTINUATION.
    const continuations = function* () {
      yield frame(TYPE.HEADERS, END_STREAM, 1, requestBlock(host, '/echo'));
      const filler = Buffer.concat([Buffer.from([0x00, 5]), Buffer.from('x-pad'), Buffer.from([100]), Buffer.alloc(100, 'p')]);
      for (let i = 0; i < 20_000; i++) yield frame(TYPE.CONTINUATION, 0, 1, filler);
    };
    expect(await flood(server.ports.http, continuations())).toBe(true);

    // A client that half-closes is gone (HTTP/2 never does it): the session ends at its EOF, not
    // at the head timeout (30 s here).
    const finned = await new Promise<boolean>((resolve) => {
      const socket = net.connect(server.ports.http, '127.0.0.1', () => socket.end(Buffer.concat([PREFACE, frame(TYPE.SETTINGS, 0, 0)])));
      socket.resume();
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 10_000);
    });
    expect(finned).toBe(true);

    // The server is unharmed: a new HTTP/2 client is served.
    const session = await h2connect(kit, `http://127.0.0.1:${server.ports.http}`);
    await waitFor('a request after the floods', async () => ((await h2request(session, host, '/echo')).status === 200 ? true : undefined));
  });
});
