// Agent keys (issue 14): the env's agent logs in with its own key, which the account registered
// (`exec agent-key`, with the key's own signature as proof); it is then that account for that one
// env, and nobody else can bind it. The account key never has to be on the machine.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { signAccessToken } from '@prevu/core/access-token';
import { agentKeyRegistration, ensureAgentKey } from '@prevu/core/agent-key';
import { accountIdFromKeyBlob } from '@prevu/core/names';
import { tunnelExec } from '@prevu/core/tunnel-server-client';
import { startTunnelServer, useKit, waitFor } from '@prevu/test-kit';
import { AgentKeys } from '../src/agent-keys.js';
import { get, hostOf, makeAccount, ssh2Tunnel, startBackend, type Account } from './harness.js';

const kit = useKit();

describe('agent keys', () => {
  it('an agent key the account registered is that account, for its one env; nobody else can bind it', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'prevu-state-'));
    let server = await startTunnelServer(kit, { stateDir });
    const backend = await startBackend(kit);
    const alice = makeAccount();
    const mallory = makeAccount();
    const key = ensureAgentKey(mkdtempSync(join(tmpdir(), 'prevu-env-')));
    const blob = (ssh2.utils.parseKey(key.publicKey) as ssh2.ParsedKey).getPublicSSH();
    const agent: Account = { privateKey: key.privateKey, keyPath: key.file, blob, accountId: accountIdFromKeyBlob(blob) };
    const exec = (account: Account, envId: string, command: string, input?: unknown) =>
      tunnelExec({ address: `127.0.0.1:${server.ports.ssh}`, privateKey: account.privateKey, envId, recordedIn: 'test' }, command, input === undefined ? undefined : JSON.stringify(input));
    const helloAccount = async (account: Account, envId: string) => (JSON.parse((await exec(account, envId, 'hello')).stdout) as { accountId: string }).accountId;

    // Unregistered, it is just another key (open mode): its own account.
    expect(await helloAccount(agent, 'shop')).toBe(agent.accountId);
    // A proof made for another account or env does not bind it.
    await expect(exec(mallory, 'shop', 'agent-key', agentKeyRegistration(key, alice.accountId, 'shop'))).rejects.toThrow(/proof is not the key's signature over "prevu-agent-key-v1 \w+ shop"/);
    await expect(exec(alice, 'shop', 'agent-key', agentKeyRegistration(key, alice.accountId, 'other'))).rejects.toThrow(/proof is not the key's signature/);
    expect((await exec(alice, 'shop', 'agent-key', agentKeyRegistration(key, alice.accountId, 'shop'))).stdout).toBe('{"ok":true}\n');
    // Nor is an account key an agent key (its owner would be locked out of every other env).
    await expect(exec(alice, 'shop', 'agent-key', agentKeyRegistration({ privateKey: alice.privateKey, publicKey: readFileSync(`${alice.keyPath}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ') }, alice.accountId, 'shop'))).rejects.toThrow(/that is the account key itself/);
    // Once bound, another account cannot take it, even with a right proof for itself.
    await expect(exec(mallory, 'shop', 'agent-key', agentKeyRegistration(key, mallory.accountId, 'shop'))).rejects.toThrow(/another account's agent key/);

    // Now it is alice in env shop: her hostnames, and her tokens open its private tunnels.
    expect(await helloAccount(agent, 'shop')).toBe(alice.accountId);
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'shop', account: agent, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }, { kind: 'streamlocal', path: '/admin-80#access=private' }] });
    expect((await get(server.ports.http, hostOf(alice, 'shop', 'web-80'))).status).toBe(200);
    const bearer = async (privateKey: string) => ({ authorization: `Bearer ${await signAccessToken({ privateKey, envId: 'shop' })}` });
    expect((await get(server.ports.http, hostOf(alice, 'shop', 'admin-80'), '/echo', { headers: await bearer(alice.privateKey) })).status).toBe(200);
    // The agent key cannot mint access for the account, nor act for it.
    expect((await get(server.ports.http, hostOf(alice, 'shop', 'admin-80'), '/echo', { headers: await bearer(key.privateKey) })).status).toBe(401);
    await expect(exec(agent, 'shop', 'agent-key', agentKeyRegistration(key, alice.accountId, 'shop'))).rejects.toThrow(/agent-key needs the account key, not an agent key/);
    await expect(exec(agent, 'shop', 'share-create', {})).rejects.toThrow(/share-create needs the account key/);
    // Nor log in as another env of the account.
    await expect(exec(agent, 'other', 'hello')).rejects.toMatchObject({ code: 'PREVU_TUNNEL_AUTH' });

    // Kept across a restart (state dir); revoked by the account (what `prevu down` does).
    await server.proc.stop();
    server = await startTunnelServer(kit, { stateDir });
    expect(await helloAccount(agent, 'shop')).toBe(alice.accountId);
    const live = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'shop', account: agent, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-80' }] });
    expect((await exec(alice, 'shop', 'agent-key-revoke')).stdout).toBe('{"ok":true,"revoked":1}\n');
    // Its live connection ends with the reason, and its next login is just another key again.
    await waitFor('the revoked key\'s connection to close', async () => (live.isClosed() ? true : undefined), 5000);
    expect(live.errors.join()).toMatch(/prevu-agent-key-revoked: the account revoked or replaced this agent key of env "shop"/);
    expect((await get(server.ports.http, hostOf(alice, 'shop', 'web-80'))).status).not.toBe(200);
    expect(await helloAccount(agent, 'shop')).toBe(agent.accountId);
  });

  it('a full table evicts the oldest key of the biggest holder: a flood of fresh accounts never takes a key within its fair share', () => {
    const keys = AgentKeys.load(mkdtempSync(join(tmpdir(), 'prevu-state-')), { perAccount: 3, total: 5 });
    const dropped: string[] = [];
    keys.onDropped((key) => dropped.push(key));
    const register = (account: Account, envId: string) => {
      const agentKey = ensureAgentKey(mkdtempSync(join(tmpdir(), 'prevu-env-')));
      keys.register({ accountId: account.accountId, keyBlob: account.blob }, envId, agentKeyRegistration(agentKey, account.accountId, envId));
      return (ssh2.utils.parseKey(agentKey.publicKey) as ssh2.ParsedKey).getPublicSSH();
    };
    const [alice, big] = [makeAccount(), makeAccount()];
    const aliceKey = register(alice, 'shop');
    const bigKeys = ['a', 'b', 'c'].map((env) => register(big, env));
    expect(() => register(big, 'd')).toThrow(/already has agent keys for 3 envs/);
    register(makeAccount(), 'x'); // the fifth: the table is full now
    // two newcomers: each evicts the oldest of whoever holds the most (big), never alice's one
    register(makeAccount(), 'y');
    register(makeAccount(), 'z');
    expect(dropped).toEqual([bigKeys[0]!.toString('base64'), bigKeys[1]!.toString('base64')]);
    expect(keys.lookup(aliceKey)?.envId).toBe('shop');
    expect(keys.lookup(bigKeys[2]!)?.envId).toBe('c');
  });
});
