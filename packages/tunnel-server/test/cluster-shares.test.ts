// What a cluster shares in Redis besides the directory (cluster/redis-state.ts), on three
// tunnel-server processes and a Debian redis-server on loopback: share links registered at one
// node open, list and count at every node, a revocation anywhere is seen by the next request, a
// password cookie outlives its tunnel moving to another node, wrong passwords count across nodes,
// a dashboard login link is good once in the whole cluster, and with Redis away share tokens are
// refused. A request for a hostname is answered by the node holding it (the others hop to it), so
// to be checked on another node, the tunnel is moved there.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, signAccessToken } from '@prevu/core/access-token';
import { tunnelExec } from '@prevu/core/tunnel-server-client';
import { startRedis, useKit, waitFor, type RedisServer, type TunnelServer } from '@prevu/test-kit';
import { get, hostOf, makeAccount, ssh2Tunnel, startBackend, startCluster, type Account } from './harness.js';

const kit = useKit();
const alice = makeAccount();
const bob = makeAccount();
/** Above alice's links in this file, which all stay live but one. */
const PER_ACCOUNT = 8;
let redis: RedisServer;
let nodes: [TunnelServer, TunnelServer, TunnelServer];
let backend: Awaited<ReturnType<typeof startBackend>>;
const env = `s-${randomBytes(3).toString('hex')}`;
const web = hostOf(alice, env, 'web-80');
let tunnel: Awaited<ReturnType<typeof ssh2Tunnel>>;
/** Which node holds `web` now. */
let holder: TunnelServer;

const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`share:${password}`).toString('base64')}` });
const execAs = (on: TunnelServer, account: Account = alice) => ({ address: `127.0.0.1:${on.ports.ssh}`, privateKey: account.privateKey, envId: env, recordedIn: 'test' });
/** What `prevu share` does, over SSH to `on`: the record goes to the server, the token names it. */
async function shareLink(on: TunnelServer, options: { password?: string; account?: Account } = {}): Promise<{ id: string; token: string }> {
  const id = randomBytes(18).toString('base64url');
  const record = options.password === undefined ? {} : await hashPassword(options.password);
  await tunnelExec(execAs(on, options.account), 'share-create', JSON.stringify({ id, ...record, expiresAt: Math.floor(Date.now() / 1000) + 600 }));
  return { id, token: await signAccessToken({ privateKey: (options.account ?? alice).privateKey, envId: env, ttlSeconds: 600, shareId: id }) };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Moves `web` to `to`: its client leaves, the name reads as gone, the client comes back at `to`. */
async function moveTo(to: TunnelServer): Promise<void> {
  const account = bearer(await signAccessToken({ privateKey: alice.privateKey, envId: env }));
  tunnel.close();
  await waitFor(`${web} gone`, async () => ((await get(holder.ports.http, web, '/echo', { headers: account })).status === 502 ? true : undefined));
  tunnel = await ssh2Tunnel(kit, { sshPort: to.ports.ssh, envId: env, account: alice, target: backend.port, forwards: [{ kind: 'streamlocal', path: '/web-80#access=private' }] });
  holder = to;
  for (const node of nodes) await waitFor(`${web} through ${node.ports.http}`, async () => ((await get(node.ports.http, web, '/echo', { headers: account })).status === 200 ? true : undefined));
}

beforeAll(async () => {
  redis = await startRedis(kit);
  nodes = (await startCluster(kit, [redis.url, redis.url, redis.url], { args: ['--max-share-links-per-account', String(PER_ACCOUNT)] })) as typeof nodes;
  backend = await startBackend(kit, 'cluster-shares-backend');
  tunnel = await ssh2Tunnel(kit, { sshPort: nodes[0].ports.ssh, envId: env, account: alice, target: backend.port, forwards: [{ kind: 'streamlocal', path: '/web-80#access=private' }] });
  holder = nodes[0];
});

describe('share links in a cluster', () => {
  it('registered through one node, open through every node, are listed by every node, and count against the limit cluster-wide', async () => {
    const link = await shareLink(nodes[1]);
    for (const node of nodes) expect((await get(node.ports.http, web, '/echo', { headers: bearer(link.token) })).status).toBe(200);
    for (const node of nodes) {
      const listed = JSON.parse((await tunnelExec(execAs(node), 'share-ls')).stdout) as Array<{ id: string }>;
      expect(listed.map((l) => l.id)).toContain(link.id);
    }
    // bob's links, one per node in turn: the limit holds for all of them together.
    for (let i = 0; i < PER_ACCOUNT; i++) await shareLink(nodes[i % 3]!, { account: bob });
    await expect(shareLink(nodes[(PER_ACCOUNT + 1) % 3]!, { account: bob })).rejects.toThrow(`this key already has ${PER_ACCOUNT} live share links`);
    expect(JSON.parse((await tunnelExec(execAs(nodes[2], bob), 'share-ls')).stdout)).toHaveLength(PER_ACCOUNT);
  });

  it('revoked through another node, are refused by the next request on every node, keep-alive connections included', async () => {
    const link = await shareLink(holder);
    const login = await get(nodes[2].ports.http, web, `/_prevu/login?token=${link.token}`);
    expect(login.status).toBe(302);
    const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    const direct = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const hopped = new http.Agent({ keepAlive: true, maxSockets: 1 });
    kit.defer('keep-alive agents', () => [direct, hopped].forEach((a) => a.destroy()));
    const other = nodes.find((n) => n !== holder)!;
    expect((await get(holder.ports.http, web, '/echo', { headers: { cookie }, agent: direct })).status).toBe(200);
    expect((await get(other.ports.http, web, '/echo', { headers: { cookie }, agent: hopped })).status).toBe(200);
    const revoker = nodes.find((n) => n !== holder && n !== other)!;
    expect(JSON.parse((await tunnelExec(execAs(revoker), 'share-rm', JSON.stringify({ id: link.id }))).stdout)).toEqual({ ok: true, revoked: true });
    expect((await get(holder.ports.http, web, '/echo', { headers: { cookie }, agent: direct })).status).toBe(401);
    expect((await get(other.ports.http, web, '/echo', { headers: { cookie }, agent: hopped })).status).toBe(401);
    for (const node of nodes) expect((await get(node.ports.http, web, '/echo', { headers: bearer(link.token) })).status).toBe(401);
    expect((JSON.parse((await tunnelExec(execAs(holder), 'share-ls')).stdout) as Array<{ id: string }>).map((l) => l.id)).not.toContain(link.id);
  });

  it('with a password: the cookie made while one node held the tunnel opens it once another node holds it', async () => {
    const { token } = await shareLink(nodes[2], { password: 'correct horse' });
    const right = await get(nodes[2].ports.http, web, `/_prevu/login?token=${token}`, { headers: basic('correct horse') });
    expect(right.status).toBe(302);
    const cookie = right.headers['set-cookie']![0]!.split(';')[0]!;
    const before = holder;
    await moveTo(nodes.find((n) => n !== before)!);
    for (const node of nodes) expect((await get(node.ports.http, web, '/echo', { headers: { cookie } })).status).toBe(200);
    // The proof still belongs to its token alone.
    const other = await shareLink(nodes[0], { password: 'correct horse' });
    expect((await get(holder.ports.http, web, '/echo', { headers: { cookie: `__Host-prevu_session=${other.token}~${cookie.split('~')[1]}` } })).status).toBe(401);
  });

  it('count wrong passwords across nodes: 10 in all, wherever they were checked, block the link', async () => {
    const { token } = await shareLink(nodes[1], { password: 'correct horse' });
    const login = `/_prevu/login?token=${token}`;
    const wrong = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const reply = await get(nodes[i % 3]!.ports.http, web, login, { headers: basic(`guess ${i}`) });
        expect([reply.status, reply.headers['x-prevu-error']]).toEqual([401, 'Wrong password']);
      }
    };
    // Checked by the node holding the tunnel: 4, 3 and 3 on three holders.
    const seen = [holder];
    await wrong(4);
    await moveTo(nodes.find((n) => !seen.includes(n))!);
    seen.push(holder);
    await wrong(3);
    await moveTo(nodes.find((n) => !seen.includes(n))!);
    await wrong(3);
    for (const node of nodes) expect((await get(node.ports.http, web, login, { headers: basic('correct horse') })).status).toBe(429);
  });
});

describe('the dashboard in a cluster', () => {
  it('takes a login link once in the whole cluster', async () => {
    // alice has a connection at both nodes: each can check her login token.
    for (const node of [nodes[0], nodes[1]]) await ssh2Tunnel(kit, { sshPort: node.ports.ssh, envId: `${env}-dash`, account: alice, target: backend.port, forwards: [] });
    const dash = 'dash.localhost';
    const token = await signAccessToken({ privateKey: alice.privateKey, ttlSeconds: 120, dashboard: true });
    expect((await get(nodes[0].ports.http, dash, `/login?token=${token}`)).status).toBe(303);
    const again = await get(nodes[1].ports.http, dash, `/login?token=${token}`);
    expect([again.status, again.body]).toEqual([401, expect.stringMatching(/used already/)]);
    // A fresh link does log in there: the refusal was the reuse.
    const fresh = await signAccessToken({ privateKey: alice.privateKey, ttlSeconds: 120, dashboard: true });
    expect((await get(nodes[1].ports.http, dash, `/login?token=${fresh}`)).status).toBe(303);
  });
});

describe('a cluster whose Redis is away', () => {
  it('refuses share tokens (503) and still lets an account token in', async () => {
    const link = await shareLink(nodes[0]);
    const { token: guarded } = await shareLink(nodes[0], { password: 'correct horse' });
    expect((await get(holder.ports.http, web, '/echo', { headers: bearer(link.token) })).status).toBe(200);
    await redis.proc.stop();
    const refused = await get(holder.ports.http, web, '/echo', { headers: bearer(link.token) });
    expect([refused.status, refused.headers['x-prevu-error']]).toEqual([503, 'Share links unavailable']);
    const login = await get(holder.ports.http, web, `/_prevu/login?token=${guarded}`, { headers: basic('correct horse') });
    expect([login.status, login.headers['x-prevu-error']]).toEqual([503, 'Share links unavailable']);
    const account = await signAccessToken({ privateKey: alice.privateKey, envId: env });
    expect((await get(holder.ports.http, web, '/echo', { headers: bearer(account) })).status).toBe(200);
  });
});
