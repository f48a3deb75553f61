// The production path, end to end: a tunnel server on a base domain that is not localhost
// (preview.test) with a wildcard certificate from a test CA on its own TLS port, reached by the
// CLI and by the agent only through that port (SSH over TLS), verified against the CA given as
// --ca-file; the base resolved by PREVU_HOSTS_FILE (no DNS). `prevu up` of a service built FROM
// node:20-slim; its https URL answers 200 and a WebSocket and an SSE stream work through the
// agent and the tunnel, as a browser would meet them.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent } from 'undici';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { localhostAwareLookup } from '@prevu/core/localhost-lookup';
import { httpGet, operatorCertificate, startTunnelServer, testCa, uniqueName, useKit } from '@prevu/test-kit';
import { cliHome } from './cli.js';

const kit = useKit();
const BASE = 'preview.test';
const lookup = localhostAwareLookup as unknown as LookupFunction;

describe('the production path: TLS on a real-looking domain, 443 mode', () => {
  it('prevu up through SSH over TLS; https, WebSocket and SSE answer through the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prevu-prod-'));
    kit.defer('prod dir', () => rmSync(dir, { recursive: true, force: true }));
    const ca = testCa(dir);
    const caPem = readFileSync(ca.cert, 'utf8');
    const leaf = operatorCertificate(dir, `*.${BASE}`, 30, 'leaf', ca);
    // On every address: the CLI reaches it on loopback, the agent container at host.docker.internal.
    const server = await startTunnelServer(kit, { baseDomain: BASE, listen: '0.0.0.0', args: ['--https-port', '0', ...leaf.args] });
    const port = server.ports.https!;
    // what a user without DNS for the base writes (and this test: no query leaves the machine)
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, `# the tunnel server, before its wildcard record exists\n127.0.0.1 *.${BASE}\n`);
    process.env.PREVU_HOSTS_FILE = hosts; // for this process's checks below, through the same lookup
    kit.defer('PREVU_HOSTS_FILE', () => void delete process.env.PREVU_HOSTS_FILE);
    const cli = cliHome(kit, { PREVU_HOSTS_FILE: hosts });

    const init = await cli.run(['init', '--name', 'prod', '--tunnel-server', `tls://ssh.${BASE}:${port}`, '--agent-tunnel-server', `tls://host.docker.internal:${port}`, '--ca-file', ca.cert]);
    expect(init.code, init.stderr).toBe(0);
    const doctor = await cli.run(['doctor']);
    expect(doctor.stdout).toContain(`✓ tunnel server: tls://ssh.${BASE}:${port} answers, base URL https://${BASE}:${port}`);
    expect(doctor.stdout).toMatch(/✓ https: port \d+ answers; its certificate covers \*\.preview\.test and is valid for \d+ more days; trusted by this machine\n/);

    const project = join(dir, uniqueName('live'));
    cpSync(resolve(import.meta.dirname, 'fixtures', 'live'), join(project, 'live'), { recursive: true });
    writeFileSync(
      join(project, 'compose.yaml'),
      [
        'services:',
        '  live:',
        '    build: ./live',
        '    expose: ["3000"]',
        '    healthcheck:',
        `      test: ["CMD", "node", "-e", "fetch('http://127.0.0.1:3000/').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]`,
        '      interval: 1s',
        '      retries: 30',
        '',
      ].join('\n'),
    );
    const id = uniqueName('prod');
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: project }));
    const up = await cli.run(['up', '--id', id], { cwd: project });
    expect(up.code, up.stderr).toBe(0);
    const url = /https:\/\/live-\S+/.exec(up.stdout)?.[0];
    expect(url).toMatch(new RegExp(`^https://live-${id}-[a-z2-7]{10}\\.preview\\.test:${port}$`));
    // the agent had only the TLS address: SSH over TLS carried its tunnel
    const overlay = JSON.parse(readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'prod', 'envs', id, 'overlay.json'), 'utf8')) as { services: Record<string, { environment: Record<string, string> }> };
    expect(overlay.services['prevu-agent']!.environment).toMatchObject({ PREVU_TUNNEL_SERVER: `tls://host.docker.internal:${port}`, PREVU_TUNNEL_TLS_NAME: `ssh.${BASE}`, PREVU_TUNNEL_CA: caPem });

    // as a browser that trusts the CA: https, then a WebSocket and an SSE stream
    const dispatcher = new Agent({ connect: { lookup, ca: caPem } });
    kit.defer('undici agent', () => dispatcher.close());
    const page = await httpGet(url!, { dispatcher });
    expect([page.status, page.body]).toEqual([200, 'live\n']);

    const ws = new WebSocket(`${url!.replace('https', 'wss')}/socket`, { ca: caPem, lookup });
    kit.defer('websocket', () => ws.terminate());
    const echoes: string[] = [];
    await new Promise<void>((done, fail) => {
      ws.once('error', fail);
      ws.once('open', () => ws.send('one'));
      ws.on('message', (data) => {
        echoes.push(String(data));
        if (echoes.length === 1) ws.send('two');
        else done();
      });
    });
    expect(echoes).toEqual(['echo: one', 'echo: two']);

    const ticks = await new Promise<string[]>((done, fail) => {
      const req = https.get(`${url}/events`, { ca: caPem, lookup, headers: { accept: 'text/event-stream' } }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
          if (events.length >= 3) {
            req.destroy();
            done(events.slice(0, 3));
          }
        });
      });
      req.once('error', fail);
    });
    expect(ticks).toEqual(['data: tick 1', 'data: tick 2', 'data: tick 3']);

    // Without the CA the same TLS port is refused in one line: the certificate is checked.
    const untrusted = cliHome(kit, { PREVU_HOSTS_FILE: hosts });
    expect((await untrusted.run(['init', '--name', 'nocab', '--tunnel-server', `tls://ssh.${BASE}:${port}`])).code).toBe(0);
    const refused = await untrusted.run(['doctor']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(`✗ tunnel server: the TLS certificate of the tunnel server tls://ssh.${BASE}:${port} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): give the profile the CA`);
  }, 240_000);
});
