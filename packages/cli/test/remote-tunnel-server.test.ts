// A profile with a real (self-hosted) tunnel server: the host key is recorded on first contact and
// checked after; a changed key is one line and exit 1. The server runs as a process on loopback.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTunnelServer, useKit } from '@prevu/test-kit';
import { describe, expect, it } from 'vitest';
import { cliHome, errorLines } from './cli.js';
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
