// A profile with a real (self-hosted) tunnel server: the host key is recorded on first contact and
// checked after; a changed key is one line and exit 1. The server runs as a process on loopback.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { freePort, operatorCertificate, startTunnelServer, useKit } from '@prevu/test-kit';
import { describe, expect, it } from 'vitest';
import { CLI, cliHome, errorLines } from './cli.js';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';

const kit = useKit();

describe('remote tunnel server profile', () => {
  it('records the host key on first contact and refuses a changed one', async () => {
    const server = await startTunnelServer(kit);
    const cli = cliHome(kit);
    const address = `127.0.0.1:${server.ports.ssh}`;
    expect((await cli.run(['init', '--name', 'self', '--tunnel-server', address])).code).toBe(0);

    const doctor = await cli.run(['doctor']);
    expect(doctor.stdout).toContain(`✓ tunnel server: ${address} answers, base URL http://localhost:${server.ports.http}`);
    const file = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'self', 'profile.json');
    const profile = JSON.parse(readFileSync(file, 'utf8')) as { tunnelServer: { hostKey?: string } };
    expect(profile.tunnelServer.hostKey).toMatch(/^ssh-ed25519 AAAA/);
    expect(doctor.stdout).toContain(`✓ host keys: tunnel server recorded on first use (${server.hostKey}; pin it: --tunnel-host-key); machine is this one: no SSH`);

    // the operator rebuilt the server (or someone is in the middle): another key answers
    const other = ed25519KeyPair().public.split(' ').slice(0, 2).join(' ');
    writeFileSync(file, JSON.stringify({ ...profile, tunnelServer: { ...profile.tunnelServer, hostKey: other } }));
    const again = await cli.run(['doctor']);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`✗ tunnel server: the SSH host key of the tunnel server ${address} does not match the one recorded: `);
    const project = mkdtempSync(join(tmpdir(), 'prevu-remote-'));
    kit.defer('project dir', () => rmSync(project, { recursive: true, force: true }));
    writeFileSync(join(project, 'compose.yaml'), 'services:\n  web:\n    image: busybox:latest\n    expose: ["80"]\n');
    const up = await cli.run(['up'], { cwd: project });
    expect(up.code).toBe(1);
    expect(errorLines(up.stderr)).toEqual([`prevu: the SSH host key of the tunnel server ${address} does not match the one recorded: if the server was rebuilt, delete tunnelServer.hostKey from ${file} and retry`]);
  });

  it('checks a pinned key (--tunnel-host-key) from the first contact on; doctor says it is pinned', async () => {
    const server = await startTunnelServer(kit);
    const cli = cliHome(kit);
    const address = `127.0.0.1:${server.ports.ssh}`;
    expect(server.hostKey).toMatch(/^SHA256:/);
    expect((await cli.run(['init', '--name', 'pinned', '--tunnel-server', address, '--tunnel-host-key', server.hostKey])).code).toBe(0);
    const doctor = await cli.run(['doctor']);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toContain(`✓ host keys: tunnel server pinned (${server.hostKey}); machine is this one: no SSH`);

    // Another key pinned: the first contact is refused (trust on first use would have taken it).
    const wrong = ed25519KeyPair().public;
    expect((await cli.run(['init', '--name', 'wrong', '--tunnel-server', address, '--tunnel-host-key', wrong])).code).toBe(0);
    const refused = await cli.run(['doctor']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`✗ tunnel server: the SSH host key of the tunnel server ${address} is not the one pinned for it: something may sit between prevu and it: stop here`);
    const file = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'wrong', 'profile.json');
    expect(JSON.parse(readFileSync(file, 'utf8')).tunnelServer).toMatchObject({ hostKey: wrong, hostKeyPinned: true });

    const bad = await cli.run(['init', '--name', 'bad', '--tunnel-server', address, '--tunnel-host-key', 'SHA256:abc']);
    expect(bad.code).toBe(1);
    expect(errorLines(bad.stderr)).toEqual(['prevu: --tunnel-host-key "SHA256:abc" is not a host key: a host key is SHA256:... (ssh-keygen -lf) or "ssh-ed25519 AAAA..." (ssh-keyscan)']);
  });
});

describe('a base domain without DNS', () => {
  it('stops up in one line as soon as the agent name does not resolve, not at --wait-timeout', async () => {
    const server = await startTunnelServer(kit, { baseDomain: 'prevu-test.invalid' });
    const cli = cliHome(kit);
    expect((await cli.run(['init', '--name', 'nodns', '--tunnel-server', `127.0.0.1:${server.ports.ssh}`])).code).toBe(0);
    const project = mkdtempSync(join(tmpdir(), 'prevu-nodns-'));
    kit.defer('project dir', () => rmSync(project, { recursive: true, force: true }));
    writeFileSync(join(project, 'compose.yaml'), 'services:\n  web:\n    image: busybox:latest\n    command: ["httpd", "-f", "-p", "80"]\n    expose: ["80"]\n');
    const id = `nodns${process.pid}`;
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: project }));
    // Names resolve from /etc/hosts only, in a private mount namespace: no DNS query leaves the
    // machine, and *.prevu-test.invalid is unknown there, as a missing wildcard record would be.
    const nsswitch = join(project, 'nsswitch.conf');
    writeFileSync(nsswitch, 'hosts: files\n');
    const up = await new Promise<{ code: number; stderr: string }>((done) =>
      execFile('unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/nsswitch.conf && exec "$@"', nsswitch, 'node', CLI, 'up', '--id', id], { cwd: project, env: { ...process.env, ...cli.env } }, (error, _stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
      ),
    );
    expect([up.code, errorLines(up.stderr)]).toEqual([2, [expect.stringMatching(/^prevu: prevu-agent-nodns\d+-[a-z2-7]{10}\.prevu-test\.invalid does not resolve \(ENOTFOUND\): the base domain prevu-test\.invalid has no wildcard DNS record: add a DNS record \*\.prevu-test\.invalid pointing at the tunnel server; `prevu doctor` checks it$/)]]);
  });
});

describe('doctor on a self-hosted server', () => {
  async function doctorLines(args: string[] = [], options: { devTls?: boolean } = {}) {
    // two labels: TLS wildcards need a parent of two (no *.localhost, as no *.com)
    const server = await startTunnelServer(kit, { ...options, baseDomain: 'prevu.localhost', args });
    const cli = cliHome(kit);
    expect((await cli.run(['init', '--name', 'self', '--tunnel-server', `127.0.0.1:${server.ports.ssh}`])).code).toBe(0);
    const r = await cli.run(['doctor']);
    return { code: r.code, lines: r.stdout.split('\n').filter((l) => /^. (dns|https?):/.test(l)) };
  }

  it('checks the wildcard name and, with TLS, that the certificate covers it and is not about to expire', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prevu-certs-'));
    kit.defer('certs', () => rmSync(dir, { recursive: true, force: true }));
    const plain = await doctorLines();
    expect(plain.lines).toEqual([expect.stringMatching(/^✓ dns: \*\.prevu\.localhost resolves \(prevu-doctor-[0-9a-f]{8}\.prevu\.localhost -> 127\.0\.0\.1\)$/), expect.stringMatching(/^✓ http: port \d+ answers \(HTTP 404\); plain HTTP: URLs are not private in transit/)]);
    const dev = await doctorLines([], { devTls: true });
    expect(dev.lines[1]).toMatch(/^✓ https: port \d+ answers; its certificate covers \*\.prevu\.localhost and is valid for \d+ more days; not trusted by this machine/);
    // The server refuses to start with a certificate for another name, but a TLS-terminating
    // proxy in front of it (its port the public one) may still serve one.
    const wrong = operatorCertificate(dir, '*.example.test', 90);
    const front = createTlsServer({ cert: readFileSync(wrong.cert), key: readFileSync(wrong.key) }, (socket) => socket.end());
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    kit.defer('front proxy', () => new Promise<void>((resolve) => front.close(() => resolve())));
    const frontPort = (front.address() as AddressInfo).port;
    const other = await doctorLines(['--https-port', String(await freePort()), '--public-port', String(frontPort), ...operatorCertificate(dir, '*.prevu.localhost', 90).args]);
    expect([other.code, other.lines[1]]).toEqual([2, "✗ https: the tunnel server's certificate does not cover *.prevu.localhost (it names DNS:*.example.test): give the server a certificate for *.prevu.localhost (--tls-cert/--tls-key); every URL is a name under it"]);
    const soon = await doctorLines(['--https-port', String(await freePort()), ...operatorCertificate(dir, '*.prevu.localhost', 5).args]);
    expect([soon.code, soon.lines[1]]).toEqual([2, expect.stringMatching(/^✗ https: the tunnel server's certificate for \*\.prevu\.localhost expires in [45] day\(s\) \(.+\): renew it: the server serves renewed --tls-cert\/--tls-key files without a restart$/)]);
  });
});
