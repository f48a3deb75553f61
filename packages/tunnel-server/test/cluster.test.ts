// Three tunnel-server processes sharing a Debian redis-server on loopback (--redis): any node
// answers any hostname through the authenticated hop, over HTTP/1.1 and per stream over HTTP/2
// (prior knowledge, gRPC with trailers, private access), isolation and takeover hold across nodes,
// a node killed with kill -9 is replaced by the client reconnecting elsewhere, and a Redis that
// restarts empty gets every node's tunnels re-published.
import { createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '@prevu/core/access-token';
import { startRedis, useKit, waitFor, type RedisServer, type TunnelServer } from '@prevu/test-kit';
import { chat, grpcClient, h2connect, h2request, startGrpcEcho, unary } from './h2-kit.js';
import { get, hostOf, makeAccount, ssh2Tunnel, startBackend, startCluster } from './harness.js';

const kit = useKit();
const alice = makeAccount();
let redis: RedisServer;
let nodes: TunnelServer[];
let backend: Awaited<ReturnType<typeof startBackend>>;
const env = `c-${randomBytes(3).toString('hex')}`;
const web = hostOf(alice, env, 'web-80');
const secret = randomBytes(32).toString('hex');
/** A node's id (`<host>:<port>#<boot id>`), from its ready line. */
const nodeId = (node: TunnelServer) => (JSON.parse(node.proc.output().split('\n').find((l) => l.includes('"msg":"ready"'))!) as { node: string }).node;

/** The body the backend echoes for a request through `node`, or undefined while it does not serve. */
async function served(node: TunnelServer): Promise<{ headers: Record<string, string> } | undefined> {
  const reply = await get(node.ports.http, web, '/echo', { headers: { 'x-forwarded-for': '6.6.6.6' } });
  return reply.status === 200 ? (JSON.parse(reply.body) as { headers: Record<string, string> }) : undefined;
}

beforeAll(async () => {
  redis = await startRedis(kit);
  nodes = await startCluster(kit, [redis.url, redis.url, redis.url], { secret });
  backend = await startBackend(kit, 'cluster-backend');
  await ssh2Tunnel(kit, { sshPort: nodes[0]!.ports.ssh, envId: env, account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
});

describe('a cluster of three nodes', () => {
  it('serves the tunnel of one node through every node, with the visitor address', async () => {
    for (const node of nodes) {
      const seen = await waitFor(`${web} through node ${node.ports.http}`, () => served(node));
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen.headers['x-forwarded-host']).toBe(web);
    }
    // A WebSocket-free keep-alive connection through a non-owner carries several requests.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(nodes[1]!.ports.http, '127.0.0.1');
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
      socket.write(`GET /echo?n=1 HTTP/1.1\r\nHost: ${web}\r\n\r\nGET /echo?n=2 HTTP/1.1\r\nHost: ${web}\r\nConnection: close\r\n\r\n`);
    });
    expect(raw.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(raw).toContain('/echo?n=2');
    // Unknown names stay 404 on every node.
    expect((await get(nodes[2]!.ports.http, `nothing-${alice.accountId}.localhost`)).status).toBe(404);
  });

  it('refuses on another node a name another env of the key holds there', async () => {
    // forward `web` of env `80-<env>` is the same hostname as `web-80` of `<env>`
    const clash = await ssh2Tunnel(kit, { sshPort: nodes[2]!.ports.ssh, envId: `80-${env}`, account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    expect(clash.refused).toBe(1);
    expect(hostOf(alice, `80-${env}`, 'web')).toBe(web);
    expect(JSON.parse(await clash.exec('hello')).refused).toEqual([expect.objectContaining({ hostname: web, heldByEnv: env })]);
    clash.close();
    expect(await served(nodes[2]!)).toBeDefined();
  });

  it('refuses a hop not signed with the cluster secret', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(nodes[0]!.ports.cluster!, '127.0.0.1');
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', () => undefined);
      socket.write(`PREVU-HOP1 http 9.9.9.9 1 ${Date.now()} nonce ${'A'.repeat(43)}\nGET /echo HTTP/1.1\r\nHost: ${web}\r\n\r\n`);
    });
    expect(answer).toBe('');
  });

  it('takes a signed hop line only at the node it was signed for', async () => {
    /** What the node answers a hop line signed for `target`, carrying a request for `web`. */
    const hop = (to: TunnelServer, target: string) =>
      new Promise<string>((resolve) => {
        const fields = `PREVU-HOP1 http 9.9.9.9 1 ${Date.now()} ${randomBytes(12).toString('base64url')}`;
        const socket = net.connect(to.ports.cluster!, '127.0.0.1');
        let out = '';
        socket.on('data', (d: Buffer) => (out += d.toString()));
        socket.on('close', () => resolve(out));
        socket.on('error', () => undefined);
        socket.write(`${fields} ${createHmac('sha256', secret).update(`${fields} ${target}`).digest('base64url')}\nGET /echo HTTP/1.1\r\nHost: ${web}\r\nConnection: close\r\n\r\n`);
      });
    expect(await hop(nodes[0]!, nodeId(nodes[0]!))).toMatch(/^HTTP\/1\.1 200/);
    // The same line taken to another node (its nonce unseen there) is refused.
    expect(await hop(nodes[1]!, nodeId(nodes[0]!))).toBe('');
  });

  it('serves HTTP/2 streams per stream: each at the node holding its hostname, several nodes on one session', async () => {
    const [owner, second, third] = nodes as [TunnelServer, TunnelServer, TunnelServer];
    // On the second node: an HTTP/1.1 service (public and private) and a gRPC (h2c) one (public and private).
    const side = `${env}-side`;
    const rpc = `${env}-rpc`;
    await ssh2Tunnel(kit, { sshPort: second.ports.ssh, envId: side, account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }, { kind: 'streamlocal', path: '/admin-80#access=private' }] });
    await ssh2Tunnel(kit, { sshPort: second.ports.ssh, envId: rpc, account: alice, target: await startGrpcEcho(kit), forwards: [{ kind: 'tcpip', name: 'grpc-50051#proto=h2c' }, { kind: 'streamlocal', path: '/vault-50051#access=private&proto=h2c' }] });
    const sideWeb = hostOf(alice, side, 'web');
    const admin = hostOf(alice, side, 'admin-80');
    const rpcHost = hostOf(alice, rpc, 'grpc-50051');

    // Prior knowledge on the plain port; `web` lives at the first node, `sideWeb` at the second, the session is at the third.
    for (const node of [owner, third]) {
      const session = await h2connect(kit, `http://127.0.0.1:${node.ports.http}`);
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => h2request(session, i % 2 ? sideWeb : web, `/echo?n=${i}`)));
      for (const [i, reply] of replies.entries()) {
        expect(reply.status).toBe(200);
        const echoed = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
        expect(echoed.url).toBe(`/echo?n=${i}`);
        expect(echoed.headers).toMatchObject({ host: i % 2 ? sideWeb : web, 'x-forwarded-proto': 'http', 'x-forwarded-for': '127.0.0.1' });
      }
      // A body through the hop, a forged X-Forwarded-For replaced at the node holding the tunnel, an unknown name answered here.
      expect(JSON.parse((await h2request(session, sideWeb, '/upload', {}, Buffer.alloc(1024 * 1024, 'u'))).body)).toEqual({ bytes: 1024 * 1024 });
      const forged = JSON.parse((await h2request(session, web, '/echo', { 'x-forwarded-for': '6.6.6.6' })).body) as { headers: Record<string, string> };
      expect(forged.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect((await h2request(session, `nothing-${alice.accountId}.localhost`, '/')).status).toBe(404);
      // Private access is checked at the node holding the tunnel, on the visitor's stream.
      expect((await h2request(session, admin, '/echo')).status).toBe(401);
      const token = await signAccessToken({ privateKey: alice.privateKey, envId: side });
      const opened = await h2request(session, admin, '/echo', { authorization: `Bearer ${token}` });
      expect(opened.status).toBe(200);
      expect((JSON.parse(opened.body) as { headers: Record<string, string> }).headers.authorization).toBeUndefined();
    }

    // Closing the client's session closes its hop, and with it the channel the far node kept alive for it.
    const channels = () => second.metric('prevu_tunnel_channels_open');
    const before = await channels();
    const session = await h2connect(kit, `http://127.0.0.1:${third.ports.http}`);
    expect((await h2request(session, sideWeb, '/echo')).status).toBe(200);
    expect(await channels()).toBe(before + 1);
    session.close();
    await waitFor('the hop closed with its client session', async () => (await channels()) === before || undefined);

    // gRPC (trailers, te: trailers) through the node holding it and through the two others, unary and bidi streaming.
    for (const node of nodes) {
      const client = grpcClient(kit, node.ports.http, rpcHost);
      expect(await unary(client, `via ${node.ports.http}`)).toEqual({ message: `via ${node.ports.http}`, proto: 'http', for: '127.0.0.1', auth: 0 });
      expect((await chat(client, ['one', 'two', 'three'])).map((a) => a.message)).toEqual(['one', 'two', 'three']);
    }
    const vault = grpcClient(kit, third.ports.http, hostOf(alice, rpc, 'vault-50051'));
    await expect(unary(vault, 'secret')).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const rpcToken = new grpc.Metadata();
    rpcToken.set('authorization', `Bearer ${await signAccessToken({ privateKey: alice.privateKey, envId: rpc })}`);
    expect(await unary(vault, 'secret', rpcToken)).toMatchObject({ message: 'secret', auth: 0 });
  });

  it('moves the tunnel to another node when its node is killed with kill -9, and survives a Redis restart', async () => {
    const [owner, second, third] = nodes as [TunnelServer, TunnelServer, TunnelServer];
    owner.proc.child.kill('SIGKILL');
    await owner.proc.exited;
    // What an agent given several server addresses does: reconnect to the next one.
    await ssh2Tunnel(kit, { sshPort: second.ports.ssh, envId: env, account: alice, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    for (const node of [second, third]) await waitFor(`${web} through node ${node.ports.http} after the kill`, () => served(node), 5_000);

    await redis.proc.stop();
    redis = await startRedis(kit, redis.port);
    // Redis came back empty: the non-owner can only route once the owner re-published.
    await waitFor(`${web} through the non-owner after the Redis restart`, () => served(third));
    expect(await served(second)).toBeDefined();
  });
});
