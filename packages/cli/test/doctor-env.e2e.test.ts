// `prevu doctor --id` explains every service that is not ready, one line of cause and fix each,
// from the agent (no SSH): each cause provoked by a real container. Real Docker, the embedded
// tunnel server; `up` itself fails here (a dependency never gets healthy), as it would for a user.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '@prevu/core/agent-client';
import { uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, projectDir, projectLeftovers, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
let dir: string;
const id = uniqueName('doc');

const compose = `services:
  ok:
    image: busybox:latest
    init: true
    command: ["httpd", "-f", "-p", "80"]
    expose: ["80"]
  exits:
    image: busybox:latest
    command: ["sh", "-c", "echo boom >&2; exit 3"]
    expose: ["80"]
  killed:
    image: busybox:latest
    init: true # as PID 1 the shell could not be killed by its own signal
    command: ["sh", "-c", "kill -KILL $$$$"]
    expose: ["80"]
  oom:
    image: node:20-slim
    mem_limit: 24m
    command: ["node", "-e", "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"]
    expose: ["80"]
  sick:
    image: busybox:latest
    init: true
    command: ["httpd", "-f", "-p", "80"]
    expose: ["80"]
    healthcheck: { test: ["CMD-SHELL", "echo database is not reachable; exit 1"], interval: 1s, timeout: 2s, retries: 1 }
  waits:
    image: busybox:latest
    init: true
    command: ["httpd", "-f", "-p", "80"]
    expose: ["80"]
    depends_on: { sick: { condition: service_healthy } }
  loopback:
    image: busybox:latest
    init: true
    command: ["httpd", "-f", "-p", "127.0.0.1:80"]
    expose: ["80"]
  noexec:
    image: busybox:latest
    restart: always # its restart is refused by the runtime: the program is gone
    command: ["sh", "-c", "rm /bin/sh; exit 1"]
    expose: ["80"]
`;

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
  dir = projectDir(kit, { 'compose.yaml': compose });
  kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
  const up = await cli.run(['up', '--id', id, '--wait-timeout', '20'], { cwd: dir });
  expect(up.code, up.stderr).toBe(1);
}, 180_000);

describe('prevu doctor --id', () => {
  it('gives one line of cause and fix per service that is not ready, and exits 1', async () => {
    const lines = await waitFor(
      'doctor to explain every service',
      async () => {
        const r = await cli.run(['doctor', '--id', id], { cwd: dir });
        const out = r.stdout.split('\n').filter(Boolean);
        // the agent explains a port that keeps refusing after 2 s, from the container's sockets
        return out.some((l) => l.includes('listens on 127.0.0.1:80 only')) ? { code: r.code, out } : undefined;
      },
      60_000,
      500,
    );
    expect(lines.code).toBe(1);
    const line = (name: string) => lines.out.find((l) => l.slice(2).startsWith(`${name}:`));
    expect(line('ok')).toBe('✓ ok: ready');
    expect(line(`env ${id}`)).toMatch(new RegExp(`^✗ env ${id}: the last up failed: .*sick.*unhealthy.*: fix that, then run \`prevu up\` again$`));
    expect(line('exits')).toBe('✗ exits: service exits stopped: it exited with code 3: see `prevu logs exits`');
    expect(line('killed')).toBe('✗ killed: service killed stopped: it was killed by signal 9 (SIGKILL, exit code 137): see `prevu logs killed`');
    expect(line('oom')).toBe('✗ oom: service oom stopped: it was OOM-killed at its memory limit of 24 MiB (exit code 137): raise its memory limit (mem_limit or deploy.resources.limits.memory), or make it use less; see `prevu logs oom`');
    expect(line('sick')).toBe('✗ sick: service sick fails its healthcheck: the last check exited 1 saying "database is not reachable": run the healthcheck command in the container to see why; see `prevu logs sick`');
    expect(line('waits')).toBe('✗ waits: service waits was not started: it waits for sick (service_healthy), and service sick fails its healthcheck: the last check exited 1 saying "database is not reachable": run the healthcheck command in the container to see why; see `prevu logs sick`');
    expect(line('noexec')).toBe('✗ noexec: service noexec could not start: exec: "sh": executable file not found in $PATH: fix what Docker refused (its command or entrypoint, a mount), then `prevu up`');
    expect(line('loopback')).toBe('✗ loopback: service loopback is starting: port 80 does not accept connections; it listens on 127.0.0.1:80 only, which the agent cannot reach: bind 0.0.0.0 instead: see `prevu logs loopback`');
  });

  it('status says the same in short, under its table', async () => {
    const r = await cli.run(['status', '--id', id], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('✗ service exits stopped: it exited with code 3: see `prevu logs exits`');
    expect(r.stdout).toMatch(/✗ the last up failed: .*sick/);
    const json = JSON.parse((await cli.run(['status', '--id', id, '--json'], { cwd: dir })).stdout) as { services: { service: string; cause?: string }[] };
    expect(json.services.find((s) => s.service === 'ok')).not.toHaveProperty('cause');
    expect(json.services.find((s) => s.service === 'oom')?.cause).toMatch(/OOM-killed/);
  });

  it('the agent announces each cause once it stands, as a `diagnosis` event; never for a healthy service', async () => {
    const home = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'local');
    const state = JSON.parse(readFileSync(join(home, 'envs', id, 'state.json'), 'utf8')) as { accountId: string; baseUrl: string };
    const agent = new AgentClient({ envId: id, accountId: state.accountId, baseUrl: state.baseUrl, privateKey: readFileSync(join(home, 'id_ed25519'), 'utf8') });
    const diagnosed = await waitFor('every cause announced', async () => {
      const events = (await agent.recentEvents(500)).filter((e) => e.type === 'diagnosis');
      return ['exits', 'killed', 'loopback', 'noexec', 'oom', 'sick', 'waits'].every((s) => events.some((e) => e.service === s)) ? events : undefined;
    }, 30_000, 500);
    expect(diagnosed.map((e) => e.service)).not.toContain('ok');
    expect(diagnosed.find((e) => e.service === 'exits')?.details.cause).toBe('service exits stopped: it exited with code 3');
  });

  it('down removes it all', async () => {
    const down = await cli.run(['down', '--id', id], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(await projectLeftovers(`prevu-${id}`)).toEqual([]);
  });
});
