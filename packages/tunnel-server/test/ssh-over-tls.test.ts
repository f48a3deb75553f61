// SSH over TLS on the HTTPS port: one TLS listener tells SSH (ALPN prevu-ssh) from HTTPS (any
// other ALPN, or none) and carries both; ssh2 and the real OpenSSH client (through
// `ProxyCommand openssl s_client`, the recipe of the README) hold tunnels through it, verified
// against a test CA, and the tunnels answer HTTPS on that same port.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { SSH_ALPN } from '@prevu/core/tunnel-protocol';
import { freePort, operatorCertificate, startTunnelServer, testCa, useKit, waitFor } from '@prevu/test-kit';
import { hostOf, makeAccount, ssh2Tunnel, startBackend, type Account } from './harness.js';

const kit = useKit();
const BASE = 'example.test';

async function tlsServer() {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-ssh-tls-'));
  kit.defer('certs', () => rmSync(dir, { recursive: true, force: true }));
  const ca = testCa(dir);
  const leaf = operatorCertificate(dir, `*.${BASE}`, 30, 'leaf', ca);
  const server = await startTunnelServer(kit, { baseDomain: BASE, args: ['--https-port', String(await freePort()), ...leaf.args] });
  return { server, port: server.ports.https!, ca: ca.cert, caPem: readFileSync(ca.cert, 'utf8') };
}

/** A TLS connection to the HTTPS port offering `alpn`, verified against the test CA. */
function tlsConnect(port: number, caPem: string, alpn: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: `ssh.${BASE}`, ca: caPem, ALPNProtocols: alpn }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** GET over HTTPS on the same port, by name, trusting the test CA. */
function httpsGet(port: number, host: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, servername: host, headers: { host }, path: '/echo', ca: caPem, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** The real `ssh`, its transport `openssl s_client` to the HTTPS port (the README recipe, with the address given). */
function opensshOverTls(account: Account, port: number, ca: string, args: string[]) {
  const proxy = `openssl s_client -quiet -verify_return_error -CAfile ${ca} -verify_hostname %h -servername %h -alpn ${SSH_ALPN} -connect 127.0.0.1:${port}`;
  const child = spawn('ssh', ['-o', `ProxyCommand=${proxy}`, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', account.keyPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 0)));
  kit.defer('ssh over tls', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { exited, stdout: () => stdout, stderr: () => stderr };
}

describe('SSH over TLS on the HTTPS port', () => {
  it('hands ALPN prevu-ssh to the SSH server and everything else to the proxy, on one port', async () => {
    const { server, port, caPem } = await tlsServer();
    const backend = await startBackend(kit);
    const account = makeAccount();
    const sock = await tlsConnect(port, caPem, [SSH_ALPN]);
    expect(sock.alpnProtocol).toBe(SSH_ALPN);
    const tunnel = await ssh2Tunnel(kit, { sshPort: 0, sock, envId: 'tls', account, target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    expect(tunnel.refused).toBe(0);
    const hello = JSON.parse(await tunnel.exec('hello')) as { accountId: string; baseUrl: string };
    expect(hello).toMatchObject({ accountId: account.accountId, baseUrl: `https://${BASE}:${port}` });

    // the tunnel answers HTTPS on the very port its SSH came in on
    const reply = await httpsGet(port, hostOf(account, 'tls', 'web', BASE), caPem);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ url: '/echo' });
    // A client offering no SSH (a browser: http/1.1 or none) is the proxy's, whatever it sends.
    for (const alpn of [['http/1.1'], []]) {
      const plain = await tlsConnect(port, caPem, alpn);
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        plain.on('data', (d: Buffer) => (text += d.toString()));
        plain.on('close', () => resolve(text));
        plain.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    }
    // the SSH connection counted as one, and the plain SSH port still answers
    expect(await server.metric('prevu_ssh_connections')).toBe(1);
    const plainSsh = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'plain', account, target: backend.port, forwards: [] });
    expect(JSON.parse(await plainSsh.exec('hello'))).toMatchObject({ envId: 'plain' });
  });

  it('carries the real OpenSSH client through ProxyCommand openssl s_client: exec, and a -R tunnel that answers', async () => {
    const { port, ca, caPem } = await tlsServer();
    const backend = await startBackend(kit);
    const account = makeAccount();
    const hello = opensshOverTls(account, port, ca, [`ossh@ssh.${BASE}`, 'hello']);
    expect(await hello.exited, hello.stderr()).toBe(0);
    expect(JSON.parse(hello.stdout())).toMatchObject({ accountId: account.accountId, envId: 'ossh' });

    opensshOverTls(account, port, ca, ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `web:80:127.0.0.1:${backend.port}`, `ossh@ssh.${BASE}`]);
    const host = hostOf(account, 'ossh', 'web', BASE);
    await waitFor('the tunnel of ssh -R over TLS', async () => ((await httpsGet(port, host, caPem)).status === 200 ? true : undefined));

    // s_client checks the certificate: a name it does not cover is refused before SSH starts
    const wrongName = opensshOverTls(account, port, ca, ['ossh@ssh.elsewhere.test', 'hello']);
    expect(await wrongName.exited).not.toBe(0);
    expect(wrongName.stdout()).toBe('');
    expect(wrongName.stderr()).toMatch(/verify error/);
  });
});
