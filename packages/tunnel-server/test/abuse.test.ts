// Abuse limits, each against the real server process: SSH auth tries, unauthenticated
// connections per address (MaxStartups), key types, sessions per connection; HTTP connections per
// address, the head timer from the accept, the minimum body rate, and a public tunnel's channels
// shared fairly between visitor addresses (loopback has all of 127.0.0.0/8 to be "others").
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { startTunnelServer, useKit, waitFor } from '@prevu/test-kit';
import { hostOf, makeAccount, ssh2Tunnel, startBackend, type Account } from './harness.js';

const kit = useKit();

/** A TCP connection from `from`, resolved once connected; `closed` settles when the server closes it. */
function connectFrom(port: number, from: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  kit.defer('raw socket', () => void socket.destroy());
  return { socket, closed, connected, received: () => received, isClosed: () => socket.destroyed || socket.readyState === 'closed' };
}

/** One GET with a Host from a chosen source address; the status, or 0 when the server closed first. */
function getFrom(port: number, from: string, host: string, path = '/echo'): Promise<number> {
  const c = connectFrom(port, from);
  c.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  return c.closed.then(() => Number(/^HTTP\/1\.1 (\d{3})/.exec(c.received())?.[1] ?? 0));
}

/** An ssh2 client's outcome: 'ready', or the error message. */
function sshOutcome(port: number, options: Partial<ssh2.ConnectConfig>): Promise<string> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    client.on('ready', () => {
      client.end();
      resolve('ready');
    });
    client.on('error', (error) => resolve(error.message));
    client.connect({ host: '127.0.0.1', port, username: 'env', readyTimeout: 10_000, ...options });
  });
}

/** A server started with `args`, and one public tunnel `web` of a fresh account to a backend. */
async function servedTunnel(args: string[]) {
  const server = await startTunnelServer(kit, { args });
  const backend = await startBackend(kit);
  const account = makeAccount();
  await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env', account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
  return { server, backend, host: hostOf(account, 'env', 'web') };
}

describe('SSH limits', () => {
  it('ends a connection past --max-auth-tries with a reason', async () => {
    const listed = makeAccount();
    const keysFile = join(listed.keyPath, '..', 'authorized_keys');
    writeFileSync(keysFile, readFileSync(`${listed.keyPath}.pub`));
    const server = await startTunnelServer(kit, { args: ['--authorized-keys', keysFile, '--max-auth-tries', '3'] });
    const strangers = Array.from({ length: 6 }, () => makeAccount());
    let next = 0;
    const outcome = await sshOutcome(server.ports.ssh, {
      authHandler: (_methods, _partial, done) => {
        const account = strangers[next++];
        done(account ? { type: 'publickey', username: 'env', key: account.privateKey } : false);
      },
    } as Partial<ssh2.ConnectConfig>);
    expect(outcome).toMatch(/prevu-limit: more than 3 authentication attempts/);
    expect(next).toBeLessThanOrEqual(4);
    expect(await sshOutcome(server.ports.ssh, { privateKey: listed.privateKey })).toBe('ready');
  });

  it('takes ed25519, ECDSA and RSA >= 2048 with SHA-2; refuses short RSA and SHA-1 signatures', async () => {
    const server = await startTunnelServer(kit);
    const ecdsa = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
    const shortRsa = ssh2.utils.generateKeyPairSync('rsa', { bits: 1024 });
    expect(await sshOutcome(server.ports.ssh, { privateKey: makeAccount().privateKey })).toBe('ready');
    expect(await sshOutcome(server.ports.ssh, { privateKey: ecdsa.private })).toBe('ready');
    expect(await sshOutcome(server.ports.ssh, { privateKey: makeAccount('rsa').privateKey })).toBe('ready');
    expect(await sshOutcome(server.ports.ssh, { privateKey: shortRsa.private })).toMatch(/authentication methods failed/);
    // OpenSSH asked to sign with ssh-rsa (SHA-1) only.
    const rsa: Account = makeAccount('rsa');
    const sha1 = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('ssh', ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'PubkeyAcceptedAlgorithms=ssh-rsa', '-o', 'IdentitiesOnly=yes', '-i', rsa.keyPath, '-p', String(server.ports.ssh), 'env@127.0.0.1', 'hello'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code) => resolve({ code, stderr }));
    });
    expect(sha1.code).toBe(255);
    expect(sha1.stderr).toMatch(/Permission denied/);
  });

  it('counts unauthenticated connections per source address and in all, from the accept on', async () => {
    const server = await startTunnelServer(kit, { args: ['--max-unauthenticated-per-address', '3', '--max-unauthenticated', '5'] });
    const held = [1, 2, 3].map(() => connectFrom(server.ports.ssh, '127.0.0.1'));
    await Promise.all(held.map((c) => c.connected));
    const fourth = connectFrom(server.ports.ssh, '127.0.0.1');
    await fourth.closed;
    expect(fourth.received()).toBe('');
    // Another address still gets in, until the total is reached.
    const others = ['127.0.0.2', '127.0.0.2'].map((from) => connectFrom(server.ports.ssh, from));
    await waitFor('the version lines', async () => (others.every((c) => c.received().startsWith('SSH-2.0-prevu')) ? true : undefined), 10_000);
    const overTotal = connectFrom(server.ports.ssh, '127.0.0.3');
    await overTotal.closed;
    expect(overTotal.received()).toBe('');
    // Closing the strangers frees the slots: an account can connect again.
    for (const c of [...held, ...others]) c.socket.destroy();
    await waitFor('a slot', async () => ((await sshOutcome(server.ports.ssh, { privateKey: makeAccount().privateKey })) === 'ready' ? true : undefined), 10_000);
  });

  it('gives the stranger slot back once a connection authenticates (and the login grace stops)', async () => {
    const server = await startTunnelServer(kit, { args: ['--max-unauthenticated-per-address', '1'] });
    const account = makeAccount();
    const first = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'one', account, target: 1, forwards: [] });
    const second = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'two', account, target: 1, forwards: [] });
    expect(JSON.parse(await second.exec('hello')).envId).toBe('two');
    expect(first.isClosed()).toBe(false);
  });

  it('bounds open session channels per connection', async () => {
    const server = await startTunnelServer(kit, { args: ['--max-sessions-per-connection', '2'] });
    const t = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env', account: makeAccount(), target: 1, forwards: [] });
    // share-create waits for its stdin to end: two such sessions stay open.
    const open = (): Promise<string> =>
      new Promise((resolve) => {
        t.client.exec('share-create', (error, stream) => {
          if (error) return resolve(error.message);
          kit.defer('session', () => void stream.end());
          resolve('open');
        });
      });
    expect(await open()).toBe('open');
    expect(await open()).toBe('open');
    expect(await open()).toMatch(/open failure|failed/i);
  });
});

describe('HTTP limits', () => {
  it('counts connections per source address, before any byte is read', async () => {
    const { server, host } = await servedTunnel(['--max-http-connections-per-address', '3']);
    const held = [1, 2, 3].map(() => connectFrom(server.ports.http, '127.0.0.1'));
    await Promise.all(held.map((c) => c.connected));
    expect(await getFrom(server.ports.http, '127.0.0.1', host)).toBe(0);
    expect(await getFrom(server.ports.http, '127.0.0.2', host)).toBe(200);
    expect(await server.metric('prevu_limit_refusals_total')).toBe(1);
  });

  it('starts the head timer at the accept and closes a request body below the minimum rate', async () => {
    const { server, host } = await servedTunnel(['--head-timeout-seconds', '1', '--idle-timeout-seconds', '120', '--min-body-bytes-per-second', '100']);
    // Says nothing at all: closed by the head timer (1 s), not the idle timeout (120 s).
    const silent = connectFrom(server.ports.http, '127.0.0.1');
    await waitFor('the silent connection closed', async () => (silent.isClosed() ? true : undefined), 15_000);
    expect(silent.received()).toBe('');
    // A body trickling at 2 bytes a second (the minimum is 100) is cut; its request never completes.
    const slow = connectFrom(server.ports.http, '127.0.0.1');
    slow.socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000\r\n\r\n`);
    const drip = setInterval(() => slow.socket.writable && slow.socket.write('x'), 500);
    kit.defer('drip', () => clearInterval(drip));
    await waitFor('the slow body cut', async () => (slow.isClosed() ? true : undefined), 15_000);
    clearInterval(drip);
    expect(slow.received()).not.toContain('"bytes"');
    // A body at full speed passes.
    const fast = connectFrom(server.ports.http, '127.0.0.1');
    fast.socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n${'y'.repeat(1000)}`);
    await fast.closed;
    expect(fast.received()).toContain('{"bytes":1000}');
  });

  it("shares a tunnel's channels fairly: 1,000 slow connections from one address do not starve another", async () => {
    const { server, backend, host } = await servedTunnel(['--max-channels-per-connection', '100']);
    // 1,000 connections from 127.0.0.1, each holding an event stream open (a slow reader), opened
    // 100 at a time; each either holds a channel, got 503, or was refused at the accept.
    const crowd: Array<ReturnType<typeof connectFrom>> = [];
    for (let batch = 0; batch < 10; batch++) {
      const some = Array.from({ length: 100 }, () => connectFrom(server.ports.http, '127.0.0.1'));
      for (const c of some) c.socket.write(`GET /sse HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      crowd.push(...some);
      await waitFor('the batch settled', async () => (some.every((c) => c.isClosed() || c.received().length > 0) ? true : undefined), 20_000);
    }
    const streaming = crowd.filter((c) => c.received().startsWith('HTTP/1.1 200')).length;
    expect(streaming).toBeGreaterThan(0);
    expect(streaming).toBeLessThan(100);
    expect(await getFrom(server.ports.http, '127.0.0.2', host)).toBe(200);
    for (const c of crowd) c.socket.destroy();
    backend.releaseSse();
  });
});
