// tls:// addresses and the TLS socket SSH runs on: the forms the profile, the CLI and the agent
// accept, and the three ways opening one fails (network, certificate, a TLS server without SSH),
// against real TLS servers on loopback with certificates from a test CA.
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, operatorCertificate, testCa } from '@prevu/test-kit';
import { hostsFileEntries, localhostAwareLookup } from '../src/localhost-lookup.js';
import { openTlsTunnel, parseTunnelAddress, TlsTunnelError } from '../src/tunnel-address.js';
import { SSH_ALPN } from '../src/tunnel-protocol.js';
import { tempDir } from './temp-dir.js';

const dir = tempDir('prevu-tls-address-');
const ca = testCa(dir);
const caPem = readFileSync(ca.cert, 'utf8');
const leaf = operatorCertificate(dir, '*.preview.test', 30, 'leaf', ca);
const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

async function tlsServer(alpn: string[]): Promise<number> {
  const server = createServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key), ALPNProtocols: alpn }, (socket) => socket.end('SSH-2.0-test\r\n'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: TlsTunnelError) => ({ kind: error.kind, message: error.message }));

describe('tunnel addresses', () => {
  it('parses host:port as SSH and tls:// (or ssh+tls://) as SSH over TLS; nothing else', () => {
    expect(parseTunnelAddress('tunnel.example.com:2222')).toEqual({ tls: false, host: 'tunnel.example.com', port: 2222 });
    expect(parseTunnelAddress('tls://ssh.preview.test:443')).toEqual({ tls: true, host: 'ssh.preview.test', port: 443 });
    expect(parseTunnelAddress('ssh+tls://[::1]:8443')).toEqual({ tls: true, host: '::1', port: 8443 });
    for (const bad of ['host', 'host:0', 'host:65536', 'https://host:443', 'tls://host', 'tls://:443', 'user@host:22']) expect(parseTunnelAddress(bad), bad).toBeUndefined();
  });

  it('opens a verified TLS socket that chose prevu-ssh, and says which way it failed', async () => {
    const port = await tlsServer(['http/1.1', SSH_ALPN]);
    const socket = await openTlsTunnel({ tls: true, host: '127.0.0.1', port }, { servername: 'ssh.preview.test', ca: caPem });
    expect(socket.alpnProtocol).toBe(SSH_ALPN);
    socket.destroy();
    // the system CAs alone do not know the test CA; a name the certificate does not cover
    expect(await failure(openTlsTunnel({ tls: true, host: '127.0.0.1', port }, { servername: 'ssh.preview.test' }))).toEqual({ kind: 'certificate', message: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(await failure(openTlsTunnel({ tls: true, host: '127.0.0.1', port }, { servername: 'ssh.other.test', ca: caPem }))).toEqual({ kind: 'certificate', message: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    // a TLS server that speaks only HTTP (a proxy in front of the tunnel server)
    const httpOnly = await tlsServer(['http/1.1']);
    expect(await failure(openTlsTunnel({ tls: true, host: '127.0.0.1', port: httpOnly }, { servername: 'ssh.preview.test', ca: caPem }))).toMatchObject({ kind: 'no-ssh' });
    expect(await failure(openTlsTunnel({ tls: true, host: '127.0.0.1', port: await freePort() }, { ca: caPem }))).toEqual({ kind: 'connect', message: 'ECONNREFUSED' });
  });

  it('resolves names of PREVU_HOSTS_FILE, a *.domain entry covering every name under it, before DNS', async () => {
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '# a comment\n\n127.0.0.2 *.preview.test\n::1 exact.test  # trailing\n');
    const env = { PREVU_HOSTS_FILE: hosts };
    expect(hostsFileEntries(env).map((e) => e.name)).toEqual(['*.preview.test', 'exact.test']);
    process.env.PREVU_HOSTS_FILE = hosts;
    try {
      const lookup = (name: string) => new Promise<string>((resolve, reject) => localhostAwareLookup(name, {}, (error, address) => (error ? reject(error) : resolve(String(address)))));
      expect(await lookup('ssh.preview.test')).toBe('127.0.0.2');
      expect(await lookup('a.b.preview.test')).toBe('127.0.0.2');
      expect(await lookup('exact.test')).toBe('::1');
      expect(await lookup('web.localhost')).toBe('127.0.0.1');
      await expect(lookup('preview-test.invalid')).rejects.toThrow(/ENOTFOUND|EAI_AGAIN/);
    } finally {
      delete process.env.PREVU_HOSTS_FILE;
    }
  });
});
