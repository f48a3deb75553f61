// `exec last-request`: when the env's URLs last had a request, per key and env, by the server's
// clock; the agent's own API (which the CLI polls) does not count, and another key's env of the
// same name is another env.
import { beforeAll, describe, expect, it } from 'vitest';
import type { LastRequestReply } from '@prevu/core/tunnel-protocol';
import { startTunnelServer, useKit, waitFor, type TunnelServer } from '@prevu/test-kit';
import { get, hostOf, makeAccount, opensshExec, opensshTunnel, startBackend } from './harness.js';

const kit = useKit();
let server: TunnelServer;
const alice = makeAccount();
const bob = makeAccount();

beforeAll(async () => {
  server = await startTunnelServer(kit);
});

async function lastRequest(account: typeof alice, envId: string): Promise<LastRequestReply> {
  const out = await opensshExec({ sshPort: server.ports.ssh, envId, account, command: 'last-request' });
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as LastRequestReply;
}

describe('exec last-request', () => {
  it('answers the last request to a service of the env, not to its agent API, with the server clock', async () => {
    const backend = await startBackend(kit);
    opensshTunnel(kit, { sshPort: server.ports.ssh, envId: 'idle', account: alice, remote: [`web:80:127.0.0.1:${backend.port}`, `prevu-agent:3000:127.0.0.1:${backend.port}`] });
    const web = hostOf(alice, 'idle', 'web');
    const agent = hostOf(alice, 'idle', 'prevu-agent');
    await waitFor('the agent forward', async () => ((await get(server.ports.http, agent)).status === 200 ? true : undefined));
    const first = await lastRequest(alice, 'idle');
    expect(first.lastRequestAt).toBeNull();
    expect(Math.abs(Date.parse(first.now) - Date.now())).toBeLessThan(60_000);

    const before = Date.now();
    expect((await get(server.ports.http, web)).status).toBe(200);
    const after = await lastRequest(alice, 'idle');
    expect(Date.parse(after.lastRequestAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(after.lastRequestAt!)).toBeLessThanOrEqual(Date.parse(after.now));
    // the agent's API is not a visitor
    expect((await get(server.ports.http, agent)).status).toBe(200);
    expect((await lastRequest(alice, 'idle')).lastRequestAt).toBe(after.lastRequestAt);
    // bob's env of the same name is bob's
    expect((await lastRequest(bob, 'idle')).lastRequestAt).toBeNull();
  });
});
