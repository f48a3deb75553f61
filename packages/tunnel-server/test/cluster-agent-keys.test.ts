// Agent keys in a cluster (cluster/redis-agent-keys.ts), on two tunnel-server processes and a
// Debian redis-server on loopback: a key registered through one node logs the agent in at the
// other, a revocation or replacement through one node closes the agent's live connection at the
// other, and a node cut off from Redis refuses the agent keys it knows (an account key still logs
// in), then, back in touch, enforces the revocation it could not hear. Node A reaches Redis
// through a relay the test cuts: the other node keeps Redis meanwhile, so revocations go on.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentKeyRegistration, ensureAgentKey } from '@prevu/core/agent-key';
import { errors } from '@prevu/core/errors';
import { accountIdFromKeyBlob } from '@prevu/core/names';
import { tunnelExec } from '@prevu/core/tunnel-server-client';
import { AGENT_KEY_REVOKED } from '@prevu/core/tunnel-protocol';
import { startRedis, useKit, waitFor, type TunnelServer } from '@prevu/test-kit';
import { makeAccount, ssh2Tunnel, startBackend, startCluster, type Account } from './harness.js';

const kit = useKit();
const alice = makeAccount();
let relay: Awaited<ReturnType<typeof startRelay>>;
let a: TunnelServer;
let b: TunnelServer;
let backend: Awaited<ReturnType<typeof startBackend>>;
const envOf = (name: string) => `${name}-${randomBytes(3).toString('hex')}`;

/** A TCP relay to `port` that the test can cut (its connections end, new ones are dropped) and restore. */
async function startRelay(port: number) {
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) return void client.destroy();
    const upstream = net.connect(port, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    open = false;
    for (const socket of sockets) socket.destroy();
  };
  kit.defer('redis relay', () => {
    cut();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`, cut, restore: () => (open = true) };
}

/** An env's agent key, as `prevu up` makes it: its login, and its registration for alice. */
function agentKey(): { account: Account; registration(envId: string): unknown } {
  const key = ensureAgentKey(mkdtempSync(join(tmpdir(), 'prevu-env-')));
  const blob = (ssh2.utils.parseKey(key.publicKey) as ssh2.ParsedKey).getPublicSSH();
  return { account: { privateKey: key.privateKey, keyPath: key.file, blob, accountId: accountIdFromKeyBlob(blob) }, registration: (envId) => agentKeyRegistration(key, alice.accountId, envId) };
}

const exec = (on: TunnelServer, account: Account, envId: string, command: string, input?: unknown) =>
  tunnelExec({ address: `127.0.0.1:${on.ports.ssh}`, privateKey: account.privateKey, envId, recordedIn: 'test' }, command, input === undefined ? undefined : JSON.stringify(input));
/** The account a login with `account`'s key is, at `on`. */
const loginAs = async (on: TunnelServer, account: Account, envId: string) => (JSON.parse((await exec(on, account, envId, 'hello')).stdout) as { accountId: string }).accountId;
/** The agent's live connection at `on`, holding a forward. */
const agentAt = (on: TunnelServer, account: Account, envId: string) => ssh2Tunnel(kit, { sshPort: on.ports.ssh, envId, account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
const closedFor = (what: string, live: { isClosed(): boolean; errors: string[] }) => waitFor(what, async () => (live.isClosed() ? live.errors.join() : undefined), 10_000);

beforeAll(async () => {
  const redis = await startRedis(kit);
  relay = await startRelay(redis.port);
  [a, b] = (await startCluster(kit, [relay.url, redis.url])) as [TunnelServer, TunnelServer];
  backend = await startBackend(kit, 'cluster-agent-keys-backend');
});

describe('agent keys in a cluster', () => {
  it('registered through one node, log the agent in at another; revoked through that one, close its live connection at the first', async () => {
    const env = envOf('up');
    const key = agentKey();
    expect((await exec(b, alice, env, 'agent-key', key.registration(env))).stdout).toBe('{"ok":true}\n');
    expect(await loginAs(a, key.account, env)).toBe(alice.accountId);
    const live = await agentAt(a, key.account, env);
    expect(live.refused).toBe(0);
    expect(JSON.parse((await exec(b, alice, env, 'agent-key-revoke')).stdout)).toEqual({ ok: true, revoked: 1 });
    expect(await closedFor('the revoked key\'s connection at the other node to close', live)).toMatch(`${AGENT_KEY_REVOKED} the account revoked or replaced this agent key of env "${env}"`);
    expect(await loginAs(a, key.account, env)).toBe(key.account.accountId);
  });

  it('replaced through one node (a second `agent-key` for the env), close the old key\'s connection at another', async () => {
    const env = envOf('again');
    const [first, second] = [agentKey(), agentKey()];
    await exec(a, alice, env, 'agent-key', first.registration(env));
    const live = await agentAt(b, first.account, env);
    await exec(a, alice, env, 'agent-key', second.registration(env));
    expect(await closedFor('the replaced key\'s connection to close', live)).toMatch(AGENT_KEY_REVOKED);
    expect(await loginAs(b, second.account, env)).toBe(alice.accountId);
    expect(await loginAs(b, first.account, env)).toBe(first.account.accountId);
  });

  it('at a node cut off from Redis, are refused (an account key logs in), and a revocation told meanwhile is enforced once it is back', async () => {
    const env = envOf('cut');
    const key = agentKey();
    await exec(b, alice, env, 'agent-key', key.registration(env));
    const live = await agentAt(a, key.account, env);
    // one node a has never seen: while cut off, a takes it for the account key it looks like
    const unseenEnv = envOf('unseen');
    const unseen = agentKey();
    await exec(b, alice, unseenEnv, 'agent-key', unseen.registration(unseenEnv));

    relay.cut();
    await expect(agentAt(a, key.account, env)).rejects.toThrow(`${errors.serverAgentKeysUnavailable.code}: ${errors.serverAgentKeysUnavailable().line}`);
    expect(await loginAs(a, alice, env)).toBe(alice.accountId);
    const stranger = await ssh2Tunnel(kit, { sshPort: a.ports.ssh, envId: unseenEnv, account: unseen.account, target: backend.port, forwards: [] });
    expect(JSON.parse(await stranger.exec('hello')).accountId).toBe(unseen.account.accountId);
    expect(JSON.parse((await exec(b, alice, env, 'agent-key-revoke')).stdout)).toEqual({ ok: true, revoked: 1 });
    expect(live.isClosed()).toBe(false); // a cannot have heard it

    relay.restore();
    expect(await closedFor('the key revoked while its node was cut off to close there', live)).toMatch(AGENT_KEY_REVOKED);
    // the one that logged in as a stranger is sent away to log in again, as the agent it is
    expect(await closedFor('the unchecked login to close', stranger)).toMatch(/log in again/);
    expect(await loginAs(a, unseen.account, unseenEnv)).toBe(alice.accountId);
    expect(await loginAs(a, key.account, env)).toBe(key.account.accountId);
  });
});
