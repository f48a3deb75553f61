// `prevu connect` on the server: direct-tcpip channels to a tunnel of the key's own env, through
// the real server process, a tunnel client holding the forward (as the agent does) and a TCP
// service that is not HTTP (a line echo). Everyone else is refused, and a key's channels are bounded.
import { mkdtempSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { Duplex } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { agentKeyRegistration, ensureAgentKey } from '@prevu/core/agent-key';
import { freePort, startTunnelServer, useKit, waitFor, type TunnelServer } from '@prevu/test-kit';
import { makeAccount, ssh2Tunnel } from './harness.js';

const kit = useKit();
let server: TunnelServer;
const alice = makeAccount();
const bob = makeAccount();
const LIMIT = 3;

/** A TCP service that answers each line with `+<line>` (RESP's simple-string shape, not HTTP). */
async function lineEcho(): Promise<number> {
  const echo = net.createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => socket.write(text.split('\n').filter(Boolean).map((l) => `+${l}\r\n`).join('')));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  kit.defer('line echo', () => new Promise<void>((r) => echo.close(() => r())));
  return (echo.address() as AddressInfo).port;
}

/** An SSH connection of `privateKey` for `envId`, as `prevu connect` makes it. */
async function login(envId: string, privateKey: string): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: server.ports.ssh, username: envId, privateKey });
  });
  kit.defer('connect client', () => client.end());
  return client;
}

const open = (client: ssh2.Client, destination: string, port: number) =>
  new Promise<Duplex>((resolve, reject) => client.forwardOut('127.0.0.1', 40000, destination, port, (error, channel) => (error ? reject(error) : resolve(channel))));

/** A TCP connection to a local port, or undefined while nothing listens there. */
function connected(port: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
  });
}

/** Writes a line, reads the answer. */
function roundTrip(channel: Duplex, line: string): Promise<string> {
  return new Promise((resolve) => {
    channel.once('data', (d: Buffer) => resolve(d.toString()));
    channel.write(`${line}\n`);
  });
}

beforeAll(async () => {
  server = await startTunnelServer(kit, { args: ['--max-connect-channels-per-key', String(LIMIT)] });
});

describe('direct-tcpip to a tunnel of the env (prevu connect)', () => {
  let envId: string;
  let target: number;

  beforeAll(async () => {
    envId = `conn${process.pid}`;
    target = await lineEcho();
    // alice's env: a one-port service `redis` and a two-port `pg-5432` / `pg-5433`
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId, account: alice, target, forwards: [{ kind: 'tcpip', name: 'redis' }, { kind: 'tcpip', name: 'pg-5432' }, { kind: 'tcpip', name: 'pg-5433' }] });
  });

  it('carries bytes both ways for the key that holds the tunnel, by forward name or service and port', async () => {
    const client = await login(envId, alice.privateKey);
    for (const [destination, port] of [['redis', 6379], ['redis', 0], ['pg-5432', 0], ['pg', 5433]] as const) {
      const channel = await open(client, destination, port);
      expect(await roundTrip(channel, 'PING')).toBe('+PING\r\n');
      channel.destroy();
    }
  });

  it('works from plain OpenSSH: ssh -L <port>:redis:6379 <envId>@server', async () => {
    const local = await freePort();
    // -v: its "Local forwarding listening" line says when the port is about to be open
    const ssh = await kit.start({
      command: 'ssh',
      args: ['-N', '-v', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-i', alice.keyPath, '-p', String(server.ports.ssh), '-L', `${local}:redis:6379`, `${envId}@127.0.0.1`],
      readyLine: /Local forwarding listening on 127\.0\.0\.1 port/,
    });
    const socket = await waitFor('ssh -L listening', () => connected(local));
    expect(await roundTrip(socket, 'PING')).toBe('+PING\r\n');
    socket.destroy();
    await ssh.stop();
  });

  it('refuses another key (same env name), an unknown target, another env of the key and an agent key', async () => {
    const other = await login(envId, bob.privateKey);
    await expect(open(other, 'redis', 6379)).rejects.toThrow(/Channel open failure/);
    const mine = await login(envId, alice.privateKey);
    await expect(open(mine, 'nope', 6379)).rejects.toThrow(/Channel open failure/);
    await expect(open(mine, 'pg', 9999)).rejects.toThrow(/Channel open failure/);
    await expect(open(mine, '', 0)).rejects.toThrow(/Channel open failure/);
    await expect(open(await login(`${envId}-other`, alice.privateKey), 'redis', 6379)).rejects.toThrow(/Channel open failure/);

    // the env's agent key, registered by alice: it is the env's way out, never a way in
    const agentKey = ensureAgentKey(mkdtempSync(`${tmpdir()}/prevu-agent-key-`));
    await new Promise<void>((resolve, reject) =>
      mine.exec('agent-key', (error, stream) => {
        if (error) return reject(error);
        stream.on('close', (code: number) => (code === 0 ? resolve() : reject(new Error(`agent-key exit ${code}`))));
        stream.resume();
        stream.end(JSON.stringify(agentKeyRegistration(agentKey, alice.accountId, envId)));
      }),
    );
    await expect(open(await login(envId, agentKey.privateKey), 'redis', 6379)).rejects.toThrow(/Channel open failure/);
    expect(await server.metric('prevu_limit_refusals_total{limit="connect_channels_per_key"}')).toBe(0);
  });

  it(`bounds the channels one key holds at once (${LIMIT}), over all its connections; a closed one frees its slot`, async () => {
    const [a, b] = [await login(envId, alice.privateKey), await login(envId, alice.privateKey)];
    // the earlier tests' channels may still be closing on the server: wait until the first slot is free
    const held = [await waitFor('a free connect slot', () => open(a, 'redis', 0).catch(() => undefined)), await open(b, 'redis', 0), await open(a, 'pg-5432', 0)];
    await expect(open(b, 'redis', 0)).rejects.toThrow(/Channel open failure/);
    expect(await server.metric('prevu_limit_refusals_total{limit="connect_channels_per_key"}')).toBe(1);
    // another key is not held back by alice's channels (its own tunnel, its own slots)
    const bobEnv = `${envId}-bob`;
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: bobEnv, account: bob, target, forwards: [{ kind: 'tcpip', name: 'redis' }] });
    const bobs = await open(await login(bobEnv, bob.privateKey), 'redis', 0);
    expect(await roundTrip(bobs, 'bob')).toBe('+bob\r\n');
    held[0]!.destroy();
    // the slot is given back when the server sees the channel close
    const again = await waitFor('a free connect slot', () => open(b, 'redis', 0).catch(() => undefined));
    expect(await roundTrip(again, 'again')).toBe('+again\r\n');
    for (const c of [...held, again, bobs]) c.destroy();
  });
});
