// The test machine is another engine: what it runs is not on the host engine and the other way
// round; its compose networks carry traffic between containers; its containers reach a server on
// this host through host.docker.internal; its containers and its sshd's sessions find its engine
// at /var/run/docker.sock, not the host's.
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { docker, freePort, runId, startMachine, useKit } from '../src/index.js';

const run = promisify(execFile);
const kit = useKit();

describe('startMachine', () => {
  it('is a separate engine with working networks, reaching this host, behind its own sshd', async () => {
    // A dockerd with --bridge none in this host's network namespace deleted docker0: not this one.
    const bridges = () => readdirSync('/sys/class/net').filter((n) => n === 'docker0');
    const before = bridges();
    const machine = await startMachine(kit, { images: ['busybox:latest'] });
    expect(bridges()).toEqual(before);
    expect(await machine.docker(['info', '--format', '{{.DockerRootDir}}'])).not.toBe(await docker(['info', '--format', '{{.DockerRootDir}}']));
    expect((await machine.contents()).images).toEqual(['busybox:latest']);

    const name = `machine-${runId}-${process.pid}`;
    kit.defer('machine network', async () => {
      await machine.docker(['rm', '-f', `${name}-srv`]);
      await machine.docker(['network', 'rm', name]);
    });
    await machine.docker(['network', 'create', name]);
    await machine.docker(['run', '-d', '--name', `${name}-srv`, '--network', name, 'busybox:latest', 'httpd', '-f', '-p', '8080', '-h', '/etc']);
    expect(await docker(['ps', '-aq', '--filter', `name=${name}`])).toBe('');

    // A server on this host listening on every address, as a tunnel server for the machine would.
    const port = await freePort();
    const server = createServer((_req, res) => res.end('from the host\n'));
    await new Promise<void>((listening) => server.listen(port, '0.0.0.0', listening));
    kit.defer('host server', () => new Promise((closed) => server.close(closed)));
    const client = await machine.docker([
      'run', '--rm', '--network', name, '--add-host', 'host.docker.internal:host-gateway', 'busybox:latest', 'sh', '-c',
      `timeout 10 wget -q -O - http://${name}-srv:8080/hostname >/dev/null && echo neighbour ok; timeout 10 wget -q -O - http://host.docker.internal:${port}/`,
    ]);
    expect(client).toBe(`neighbour ok\nfrom the host\n`);

    // A container mounting /var/run/docker.sock (as the agent does) gets the machine's engine.
    const mounted = await machine.docker(['run', '--rm', '-v', '/var/run/docker.sock:/var/run/docker.sock', 'busybox:latest', 'stat', '-c', '%i', '/var/run/docker.sock']);
    expect(Number(mounted)).toBe(statSync(machine.dockerHost.slice('unix://'.length)).ino);

    // Through the sshd, the docker socket is the machine's engine.
    const { sshd } = machine;
    const viaSsh = await run('ssh', ['-i', sshd.privateKeyPath!, '-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', `${sshd.user}@${sshd.host}`, 'docker', 'ps', '--format', '{{.Names}}']);
    expect(viaSsh.stdout.trim()).toBe(`${name}-srv`);
  });
});
