// Limits (per connection, per account, header size), allow-list mode, config errors, and TLS with
// --dev-tls on a real-looking base domain, verified by a client that trusts only the generated CA.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { startTunnelServer, tunnelServerMain, useKit, waitFor } from '@prevu/test-kit';
import { get, hostOf, makeAccount, ssh2Tunnel, startBackend } from './harness.js';

const kit = useKit();

describe('limits', () => {
  it('refuses forwards and connections past the limits without touching other accounts', async () => {
    const server = await startTunnelServer(kit, { args: ['--max-forwards-per-connection', '2', '--max-connections-per-account', '2', '--max-header-bytes', '2048', '--head-timeout-seconds', '1', '--idle-timeout-seconds', '2', '--max-channels-per-connection', '2'] });
    const backend = await startBackend(kit);
    const greedy = makeAccount();
    const calm = makeAccount();
    const forwards = ['a-1', 'b-2', 'c-3'].map((name) => ({ kind: 'tcpip' as const, name }));
    const first = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env', account: greedy, target: backend.port, forwards });
    expect(first.refused).toBe(1);
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env2', account: greedy, target: backend.port, forwards: [] });
    const third = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env3', account: greedy, target: backend.port, forwards: [] }).catch((error: Error) => error);
    const message = third instanceof Error ? third.message : (await waitFor('the refusal', async () => (third.isClosed() ? third.errors.join() : undefined)));
    expect(message).toMatch(/prevu-limit: account \w+ already has 2 connections/);
    // Another account is unaffected by the first one's limits.
    await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env', account: calm, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    expect((await get(server.ports.http, hostOf(calm, 'env', 'web'))).status).toBe(200);
    expect((await get(server.ports.http, hostOf(greedy, 'env', 'a-1'))).status).toBe(200);

    const raw = (payload: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(server.ports.http, '127.0.0.1', () => socket.write(payload));
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => undefined);
      });
    const host = hostOf(calm, 'env', 'web');
    expect(await raw(`GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'z'.repeat(4000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    // A head that never completes gets 408; a connection that says nothing is closed when idle.
    expect(await raw(`GET / HTTP/1.1\r\nHost: ${host}`)).toMatch(/^HTTP\/1\.1 408 /);
    expect(await raw('')).toBe('');
    // ...but a request whose answer takes longer than the idle timeout (2 s) is not cut.
    const slow = await get(server.ports.http, host, '/slow?ms=3000');
    expect(slow.status).toBe(200);
    expect(slow.body).toBe('finally');
    expect(await raw(`GET / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400 /);

    // Two held connections fill calm's channel limit: a third gets 503, other accounts do not notice.
    const holders = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
    for (const agent of holders) expect((await get(server.ports.http, host, '/echo', { agent })).status).toBe(200);
    const overLimit = await get(server.ports.http, host);
    expect(overLimit.status).toBe(503);
    expect(overLimit.headers['retry-after']).toBe('1');
    expect(overLimit.body).toContain('2 open connections');
    expect((await get(server.ports.http, hostOf(greedy, 'env', 'a-1'))).status).toBe(200);
    for (const agent of holders) agent.destroy();
  });
});

describe('SSH algorithms and host key', () => {
  it('keeps its ed25519 host key across restarts and shows the same one to clients', async () => {
    const first = await startTunnelServer(kit);
    const account = makeAccount();
    const seen = await new Promise<string>((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('ready', () => client.end()).on('error', reject);
      client.connect({
        host: '127.0.0.1',
        port: first.ports.ssh,
        username: 'env',
        privateKey: account.privateKey,
        hostVerifier: (key: Buffer) => {
          resolve(`SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`);
          return true;
        },
      });
    });
    expect(seen).toBe(first.hostKey);
    await first.proc.stop();
    const second = await startTunnelServer(kit, { stateDir: first.stateDir });
    expect(second.hostKey).toBe(first.hostKey);
  });

  it('refuses clients that only offer legacy key exchange, ciphers or host keys', async () => {
    const server = await startTunnelServer(kit);
    const account = makeAccount();
    const legacy = [{ kex: ['diffie-hellman-group14-sha1'] }, { cipher: ['aes128-ctr', 'aes256-cbc'] }, { serverHostKey: ['ssh-rsa'] }];
    for (const algorithms of legacy) {
      const error = await new Promise<Error | undefined>((resolve) => {
        const client = new ssh2.Client();
        client.on('ready', () => {
          client.end();
          resolve(undefined);
        });
        client.on('error', resolve);
        client.connect({ host: '127.0.0.1', port: server.ports.ssh, username: 'env', privateKey: account.privateKey, algorithms: algorithms as ssh2.Algorithms });
      });
      expect(error?.message).toMatch(/no matching/i);
    }
  });
});

describe('configuration', () => {
  it('fails with one clear line and exit 1 on a bad value', () => {
    const run = spawnSync(process.execPath, [tunnelServerMain, '--ssh-port', 'eighty'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/invalid --ssh-port \(or PREVU_SSH_PORT\)/);
    const env = spawnSync(process.execPath, [tunnelServerMain], { encoding: 'utf8', env: { ...process.env, PREVU_BASE_DOMAIN: 'not a domain!' } });
    expect(env.status).toBe(1);
    expect(env.stderr).toMatch(/--base-domain \(or PREVU_BASE_DOMAIN\)/);
    const unknown = spawnSync(process.execPath, [tunnelServerMain, '--nope'], { encoding: 'utf8' });
    expect(unknown.status).toBe(1);
  });
});

describe('allow-list mode and TLS', () => {
  it('serves https://<name>.example.test with the dev CA and only admits listed keys', async () => {
    const listed = makeAccount();
    const stranger = makeAccount();
    const keysFile = join(listed.keyPath, '..', 'authorized_keys');
    writeFileSync(keysFile, `# the team\nrestrict ${readFileSync(`${listed.keyPath}.pub`, 'utf8')}`);
    const server = await startTunnelServer(kit, { baseDomain: 'example.test', devTls: true, args: ['--authorized-keys', keysFile] });
    expect(server.caPath).toBeDefined();
    const backend = await startBackend(kit);
    await expect(ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env', account: stranger, target: backend.port, forwards: [] })).rejects.toThrow(/authentication/i);
    const t = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'env', account: listed, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web-443' }] });
    const report = JSON.parse(await t.exec('hello')) as { baseUrl: string; tunnels: Array<{ url: string; hostname: string }> };
    const host = hostOf(listed, 'env', 'web-443', 'example.test');
    expect(report.baseUrl).toBe(`https://example.test:${server.ports.https}`);
    expect(report.tunnels[0]!.url).toBe(`https://${host}:${server.ports.https}`);

    const ca = readFileSync(server.caPath!);
    const fetchTls = (trust: Buffer | undefined) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: server.ports.https, servername: host, path: '/echo', headers: { host }, ...(trust ? { ca: trust } : {}) }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
    const ok = await fetchTls(ca);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers['x-forwarded-proto']).toBe('https');
    await expect(fetchTls(undefined)).rejects.toThrow(/certificate/);
  });
});
