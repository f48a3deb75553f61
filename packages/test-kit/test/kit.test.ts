import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, freePorts, httpGet, listLabeledSync, TEST_LABEL, useKit, waitFor } from '../src/index.js';

const kit = useKit();

describe('test kit', () => {
  it('picks free ports below the ephemeral range, where outgoing connections never take one', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    // Hold a port open: the picker must step past it, not hand it out.
    const held = await freePort();
    const server = createServer().listen(held + 1, '127.0.0.1');
    await once(server, 'listening');
    try {
      const ports = await freePorts(50);
      expect(new Set(ports).size).toBe(50);
      expect(ports).not.toContain(held + 1);
      for (const port of ports) expect(port).toBeLessThan(low!);
    } finally {
      server.close();
    }
  });

  it('starts a busybox container, reaches it over HTTP on 127.0.0.1, and cleans it up', async () => {
    const port = await freePort();
    const id = await kit.container(['-p', `127.0.0.1:${port}:8080`, 'busybox:latest', 'sh', '-c', 'mkdir -p /www && echo hello-kit > /www/index.html && httpd -f -p 8080 -h /www']);
    const res = await waitFor('httpd', async () => {
      const r = await httpGet(`http://127.0.0.1:${port}/`);
      return r.status === 200 ? r : undefined;
    });
    expect(res.body.trim()).toBe('hello-kit');
    await kit.cleanup.run();
    expect(execFileSync('docker', ['ps', '-aq', '--filter', `id=${id}`], { encoding: 'utf8' }).trim()).toBe('');
  });

  it('runs a compose project from inline files with labels on everything', async () => {
    const project = await kit.composeProject({
      files: { 'compose.yaml': 'services:\n  app:\n    image: busybox:latest\n    command: ["sleep", "60"]\n' },
    });
    await project.compose(['up', '-d', '--wait']);
    const labeled = listLabeledSync(`com.docker.compose.project=${project.name}`);
    expect(labeled.containers).toHaveLength(1);
    const labels = execFileSync('docker', ['inspect', '--format', `{{index .Config.Labels "${TEST_LABEL}"}}`, labeled.containers[0]!], { encoding: 'utf8' }).trim();
    expect(labels).toBe(process.env.PREVU_TEST_RUN);
    await kit.cleanup.run();
    expect(listLabeledSync(`com.docker.compose.project=${project.name}`)).toEqual({ containers: [], networks: [], volumes: [] });
  });

  // A test that throws mid-way, and one interrupted by SIGINT, must leave nothing behind.
  for (const mode of ['throw', 'sigint'] as const) {
    it(`leaves no container or network after a test that ${mode === 'throw' ? 'throws' : 'is interrupted'} mid-way`, async () => {
      const run = `leak${mode}${Date.now()}`;
      const dir = mkdtempSync(join(tmpdir(), 'kit-leak-'));
      const script = join(dir, 'leaky.mjs');
      const kitUrl = new URL('../dist/index.js', import.meta.url).href;
      writeFileSync(script, `
        import { createKit } from ${JSON.stringify(kitUrl)};
        const kit = createKit();
        await kit.container(['busybox:latest', 'sleep', '300']);
        await kit.composeProject({ files: { 'compose.yaml': 'services:\\n  s:\\n    image: busybox:latest\\n    command: [sleep, "300"]\\n' } })
          .then((p) => p.compose(['up', '-d']));
        console.log('MADE');
        ${mode === 'throw' ? "throw new Error('boom mid-way');" : "process.kill(process.pid, 'SIGINT'); await new Promise((r) => setTimeout(r, 10000));"}
      `);
      const result = spawnSync(process.execPath, [script], { env: { ...process.env, PREVU_TEST_RUN: run }, encoding: 'utf8', timeout: 60_000 });
      expect(result.stdout).toContain('MADE');
      expect(result.status).not.toBe(0);
      expect(listLabeledSync(`${TEST_LABEL}=${run}`)).toEqual({ containers: [], networks: [], volumes: [] });
    });
  }
});
