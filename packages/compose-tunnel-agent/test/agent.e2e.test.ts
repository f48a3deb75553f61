// End to end: a real tunnel server process on the host, a compose project on the real Docker
// engine with the agent built from dist/agent.mjs, and HTTP requests through the tunnel server.
import { existsSync } from 'node:fs';
import http2 from 'node:http2';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'ssh2';
import { Agent as UndiciAgent, request } from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '@prevu/core/agent-client';
import { AGENT_IMAGE, imageBuild } from '@prevu/core/artifacts';
import { accountIdFromKeyBlob, AGENT_SERVICE, hostname } from '@prevu/core/names';
import { docker, freePort, httpGet, uniqueName, useKit, waitFor, type ComposeProject, type Proc } from '@prevu/test-kit';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';
import { signAccessToken } from '@prevu/core/access-token';

const here = dirname(fileURLToPath(import.meta.url));
const agentDir = join(here, '..');
const repo = join(agentDir, '..', '..');
const serverMain = join(repo, 'packages/tunnel-server/dist/main.js');

interface Row {
  service: string;
  port: number;
  hostname: string | null;
  url: string | null;
  state: string;
  reason?: string;
}
interface Ev {
  type: string;
  envId: string;
  service?: string;
  time: string;
  details: Record<string, unknown>;
}

const kit = useKit();
const envId = uniqueName('agent');
const project = uniqueName('pa');
const agentContainer = `${project}-prevu-agent-1`;
let sshPort: number;
let httpPort: number;
let managementPort: number;
let stateDir: string;
let server: Proc;
let key: { private: string; public: string };
let compose: ComposeProject;
const wsEvents: Ev[] = [];
let ws: WebSocket | undefined;

// busybox httpd serving one line per port; `init: true` so a stop/restart is prompt.
const httpd = (ports: Record<number, string>) =>
  JSON.stringify([
    'sh',
    '-c',
    Object.entries(ports)
      .map(([port, body]) => `mkdir -p /www/${port} && echo ${body} > /www/${port}/index.html`)
      .concat(Object.keys(ports).map((port, i, all) => `${i === all.length - 1 ? 'exec httpd -f' : 'httpd'} -p ${port} -h /www/${port}`))
      .join(' && '),
  ]);

/**
 * An HTTP/2-only (h2c) echo in the gRPC manner: each DATA chunk back as it comes, then trailers.
 * `prevu up` sets its label from compose's `app_protocol: grpc` (core overlay.ts); here it is written.
 */
const H2C_ECHO = `require('node:http2').createServer().on('stream', (s) => {
  s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end());
}).listen(50051);`;

function composeFile(): string {
  return `
services:
  prevu-agent:
    build: { context: ${JSON.stringify(agentDir)} }
    image: ${imageBuild(AGENT_IMAGE).image}
    restart: unless-stopped
    environment:
      PREVU_TUNNEL_SERVER: host.docker.internal:${sshPort}
      PREVU_ENV_ID: ${envId}
      PREVU_COMPOSE_PROJECT: ${project}
      PREVU_LOG_LEVEL: debug
    volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro"]
    secrets: [prevu_key]
    extra_hosts: ["host.docker.internal:host-gateway"]
  web:
    image: busybox:latest
    init: true
    command: ${httpd({ 80: 'web-body' })}
    expose: ["80"]
  multi:
    image: busybox:latest
    init: true
    command: ${httpd({ 8081: 'multi-8081-body', 8082: 'multi-8082-body' })}
    expose: ["8081", "8082"]
  api:
    image: busybox:latest
    init: true
    command: ${httpd({ 80: 'api-body' })}
    expose: ["80"]
    healthcheck: { test: ["CMD-SHELL", "wget -qO- http://127.0.0.1/ >/dev/null"], interval: 1s, timeout: 2s, retries: 3 }
  front:
    image: busybox:latest
    init: true
    command: ${httpd({ 80: 'front-body' })}
    expose: ["80"]
    depends_on: { api: { condition: service_healthy } }
  flaky:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "for i in $$(seq 1 25); do echo flaky log line $$i; done; mkdir -p /www && echo flaky-body > /www/index.html && exec httpd -f -p 80 -h /www"]
    expose: ["80"]
    healthcheck: { test: ["CMD-SHELL", "test ! -f /tmp/fail"], interval: 1s, timeout: 2s, retries: 3 }
  crash:
    image: busybox:latest
    restart: always
    command: ["sh", "-c", "echo crash is starting; echo something went wrong >&2; exit 3"]
    expose: ["80"]
  many:
    image: busybox:latest
    init: true
    command: ${httpd({ 9001: 'many-9001-body', 9002: 'many-9002-body', 9003: 'many-9003-body' })}
    expose: ["9001", "9002", "9003"]
    labels: { prevu.expose: "9001,9003" }
  late:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "sleep 3; mkdir -p /www && echo late-body > /www/index.html && exec httpd -f -p 80 -h /www"]
    expose: ["80"]
  loopback:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo loopback-body > /www/index.html && exec httpd -f -p 127.0.0.1:80 -h /www"]
    expose: ["80"]
  hidden:
    image: busybox:latest
    init: true
    command: ${httpd({ 80: 'hidden-body' })}
    expose: ["80"]
    labels: { prevu.expose: "false" }
  rpc:
    image: node:20-slim
    init: true
    command: ${JSON.stringify(['node', '-e', H2C_ECHO])}
    expose: ["50051"]
    labels: { prevu.h2c: "50051" }
secrets:
  prevu_key: { file: ./prevu_key }
`;
}

async function startServer(): Promise<Proc> {
  return kit.start({
    command: process.execPath,
    args: [serverMain, '--ssh-port', String(sshPort), '--http-port', String(httpPort), '--management-port', String(managementPort), '--base-domain', 'localhost', '--state-dir', stateDir, '--listen', '0.0.0.0'],
    readyLine: /"msg":"ready"/,
  });
}


/**
 * GET on the agent's API from inside its container: the API listens on loopback only, so this
 * sees the agent even while its tunnel is down (kill -9, takeover).
 */
async function agentGet(path: string): Promise<{ status: number; body: string }> {
  const script = 'fetch("http://127.0.0.1:3000" + process.argv[1]).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))';
  return JSON.parse(await docker(['exec', agentContainer, 'node', '-e', script, path])) as { status: number; body: string };
}

async function tunnels(): Promise<Row[]> {
  return JSON.parse((await agentGet('/tunnels')).body) as Row[];
}

/** The agent's API through its private tunnel, as the CLI reaches it: Host and an account JWT. */
async function viaAgentTunnel(): Promise<{ base: string; headers: Record<string, string> }> {
  const accountId = accountIdFromKeyBlob(Buffer.from(key.public.split(' ')[1]!, 'base64'));
  const token = await signAccessToken({ privateKey: key.private, envId, ttlSeconds: 600 });
  return { base: `http://127.0.0.1:${httpPort}`, headers: { host: `${hostname(AGENT_SERVICE, envId, accountId, 'localhost')}:${httpPort}`, authorization: `Bearer ${token}` } };
}

/** GET through the tunnel server, by Host header, on loopback. */
async function viaTunnel(hostname: string, timeoutMs = 5000) {
  return httpGet(`http://127.0.0.1:${httpPort}/`, { headers: { host: `${hostname}:${httpPort}` }, timeoutMs });
}

/** Rows that serve HTTP/1.1 GETs with their name in the body (`rpc` speaks HTTP/2 only). */
const ready = (rows: Row[]) => rows.filter((r) => r.service !== 'crash' && r.service !== 'flaky' && r.service !== 'loopback' && r.service !== 'rpc');

/** Polls until every routable URL answers 200 with its body. */
async function allServe(rows: Row[], timeoutMs: number): Promise<void> {
  await waitFor(
    'every URL to serve',
    async () => {
      const results = await Promise.all(ready(rows).map((r) => viaTunnel(r.hostname!, 2000).catch(() => undefined)));
      return results.every((res, i) => res?.status === 200 && res.body.includes(`${ready(rows)[i]!.service}`)) ? true : undefined;
    },
    timeoutMs,
    100,
  );
}

function connectEvents(api: { base: string; headers: Record<string, string> }): void {
  ws = new WebSocket(`${api.base.replace('http', 'ws')}/events`, { headers: api.headers });
  ws.on('message', (data) => wsEvents.push(JSON.parse(String(data)) as Ev));
  ws.on('error', () => {});
}

/** Reads an SSE stream until `until` matches an event (bounded by 10 s). */
async function sseEvents(api: { base: string; headers: Record<string, string> }, until: (e: Ev) => boolean): Promise<Ev[]> {
  const abort = AbortSignal.timeout(10_000);
  const res = await request(`${api.base}/events`, { headers: api.headers, signal: abort });
  expect(res.headers['content-type']).toBe('text/event-stream');
  const events: Ev[] = [];
  let text = '';
  for await (const chunk of res.body) {
    text += String(chunk);
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
      const data = /^data: (.*)$/m.exec(text.slice(0, end))?.[1];
      text = text.slice(end + 2);
      if (!data) continue;
      events.push(JSON.parse(data) as Ev);
      if (until(events.at(-1)!)) {
        res.body.destroy();
        return events;
      }
    }
  }
  return events;
}

let rows: Row[] = [];

beforeAll(async () => {
  expect(existsSync(join(agentDir, 'dist/agent.mjs')), 'run `npm run bundle -w @prevu/compose-tunnel-agent` first').toBe(true);
  [sshPort, httpPort, managementPort] = [await freePort('0.0.0.0'), await freePort(), await freePort()];
  stateDir = mkdtempSync(join(tmpdir(), 'prevu-agent-server-'));
  server = await startServer();
  key = ed25519KeyPair();
  compose = await kit.composeProject({ name: project, files: { 'compose.yaml': composeFile(), prevu_key: key.private } });
  await compose.compose(['up', '-d', '--build']);
  rows = await waitFor(
    'the agent to list every tunnel with a URL',
    async () => {
      const list = await tunnels();
      return list.length === 12 && list.every((r) => r.url) ? list : undefined;
    },
    60_000,
    250,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\nagent logs:\n${(await compose.compose(['logs', '--tail', '40', 'prevu-agent'])).slice(-6000)}\nserver:\n${server.output().slice(-3000)}`);
  });
  connectEvents(await viaAgentTunnel());
}, 150_000);

afterAll(() => ws?.close());

describe('compose tunnel agent', () => {
  it('gives every exposed port a URL that answers with its body', async () => {
    const byName = Object.fromEntries(rows.map((r) => [`${r.service}:${r.port}`, r]));
    expect(Object.keys(byName).sort()).toEqual(['api:80', 'crash:80', 'flaky:80', 'front:80', 'late:80', 'loopback:80', 'many:9001', 'many:9003', 'multi:8081', 'multi:8082', 'rpc:50051', 'web:80']);
    // Single-port services have no port in their hostname; multi-port ones have it per port.
    expect(byName['web:80']!.hostname).toMatch(new RegExp(`^web-${envId}-[a-z2-7]{10}\\.localhost$`));
    expect(byName['multi:8081']!.hostname).toMatch(new RegExp(`^multi-8081-${envId}-`));
    expect(byName['many:9003']!.hostname).toMatch(new RegExp(`^many-9003-${envId}-`));
    await allServe(rows, 30_000);
    for (const [key, body] of Object.entries({ 'web:80': 'web-body', 'multi:8081': 'multi-8081-body', 'multi:8082': 'multi-8082-body', 'front:80': 'front-body', 'api:80': 'api-body', 'many:9001': 'many-9001-body', 'many:9003': 'many-9003-body' })) {
      const res = await viaTunnel(byName[key]!.hostname!);
      expect(res.status, key).toBe(200);
      expect(res.body.trim(), key).toBe(body);
    }
    // the shipped bundle loads ssh2 after its padding pool (@prevu/core/ssh2-padding)
    const connected = /"pooledPaddings":(\d+)[^\n]*"connected to the tunnel server"/.exec(await compose.compose(['logs', 'prevu-agent']));
    expect(Number(connected?.[1])).toBeGreaterThan(0);
  });

  it('streams HTTP/2 both ways to an h2c service (prevu.h2c) and passes its trailers', async () => {
    const rpc = rows.find((r) => r.service === 'rpc')!;
    const session = http2.connect(`http://127.0.0.1:${httpPort}`);
    session.on('error', () => undefined);
    kit.defer('h2 session', () => void session.destroy());
    // Ready once its port accepts connections (no healthcheck): until then the agent answers 503.
    const stream = await waitFor(
      'the h2c echo to answer 200',
      async () => {
        const s = session.request({ ':method': 'POST', ':path': '/echo.Echo/Chat', ':authority': `${rpc.hostname}:${httpPort}`, 'content-type': 'application/grpc' });
        s.on('error', () => undefined);
        const status = await new Promise<number>((resolve) => s.once('response', (h) => resolve(Number(h[':status']))).once('close', () => resolve(0)));
        if (status === 200) return s;
        s.destroy();
        return undefined;
      },
      30_000,
      250,
    );
    const next = () => new Promise<string>((resolve) => stream.once('data', (d: Buffer) => resolve(d.toString())));
    for (const message of ['one', 'two', 'three']) {
      const echoed = next();
      stream.write(message);
      expect(await echoed).toBe(message);
    }
    const trailers = new Promise<Record<string, unknown>>((resolve) => stream.once('trailers', resolve));
    stream.end();
    stream.resume();
    expect(await trailers).toMatchObject({ 'grpc-status': '0' });
  });

  it('calls a service without a healthcheck ready only once its port accepts connections, and says why not meanwhile', async () => {
    // `late` listens 3 s after it starts: ready once it does, with its body.
    const late = await waitFor('late to be ready', async () => (await tunnels()).find((r) => r.service === 'late' && r.state === 'ready'), 30_000);
    expect((await viaTunnel(late.hostname!)).body.trim()).toBe('late-body');
    // `loopback` listens on 127.0.0.1 only: never ready, and the row and the page say so.
    const reason = 'service loopback is starting: port 80 does not accept connections; it listens on 127.0.0.1:80 only, which the agent cannot reach: bind 0.0.0.0 instead';
    const loopback = await waitFor('the loopback reason', async () => (await tunnels()).find((r) => r.service === 'loopback' && r.reason === reason), 30_000);
    expect(loopback.state).toBe('starting');
    const page = await viaTunnel(loopback.hostname!);
    expect(page.status).toBe(503);
    expect(page.body).toContain('it listens on 127.0.0.1:80 only');
  });

  it('serves its own API through the private `prevu-agent` tunnel, to the account key only', async () => {
    const accountId = accountIdFromKeyBlob(Buffer.from(key.public.split(' ')[1]!, 'base64'));
    const client = new AgentClient({ envId, accountId, baseUrl: `http://localhost:${httpPort}`, privateKey: key.private });
    const list = await client.tunnels();
    expect(list?.map((r) => r.hostname).sort()).toEqual(rows.map((r) => r.hostname).sort());
    const anonymous = await viaTunnel(new URL(client.url).hostname);
    expect(anonymous.status).toBe(401);
  });

  it('refuses its API to a neighbour container on the project network (loopback only)', async () => {
    // busybox's `wget -T` crashes (segfault): `timeout` bounds it instead
    const out = await compose.compose(['exec', '-T', 'web', 'sh', '-c', 'timeout 5 wget -qO- http://prevu-agent:3000/tunnels 2>&1; echo "exit=$?"']);
    expect(out).toMatch(/Connection refused/);
    expect(out).toContain('exit=1');
  });

  it('reports a failing healthcheck as `unhealthy` with log lines, and answers 503 meanwhile', async () => {
    await compose.compose(['exec', '-T', 'flaky', 'touch', '/tmp/fail']);
    const event = await waitFor('an unhealthy event on /events', async () => wsEvents.find((e) => e.type === 'unhealthy' && e.service === 'flaky'), 30_000);
    expect(event.envId).toBe(envId);
    // Its healthcheck (`test ! -f /tmp/fail`, retries 3) failed in a row; the container still runs.
    expect(event.details.failingStreak).toBeGreaterThanOrEqual(3);
    expect(event.details.lastCheck).toEqual({ exitCode: 1, output: '' });
    expect(event.details).not.toHaveProperty('exitCode');
    const logs = event.details.logs as string[];
    expect(logs).toHaveLength(20);
    expect(logs.at(-1)).toBe('flaky log line 25');
    const flaky = rows.find((r) => r.service === 'flaky')!;
    const res = await viaTunnel(flaky.hostname!);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toContain('failing its healthcheck');
  });

  it('serves a service\'s last log lines, and follows them', async () => {
    const tail = await agentGet('/logs/flaky?tail=3');
    expect(tail.status).toBe(200);
    expect(tail.body).toBe('flaky log line 23\nflaky log line 24\nflaky log line 25\n');
    expect((await agentGet('/logs/nope')).status).toBe(404);
    expect(await agentGet('/logs/flaky?tail=0')).toMatchObject({ status: 200, body: '' });
    expect((await agentGet('/logs/flaky?tail=10001')).status).toBe(400);
    const api = await viaAgentTunnel();
    const follow = await request(`${api.base}/logs/flaky?tail=2&follow=1`, { headers: api.headers, signal: AbortSignal.timeout(10_000) });
    expect(follow.statusCode).toBe(200);
    let text = '';
    for await (const chunk of follow.body) {
      text += String(chunk);
      if (text.split('\n').length > 2) break;
    }
    follow.body.destroy();
    expect(text).toBe('flaky log line 24\nflaky log line 25\n');
  });

  it('stops a crash-looping service, reports `crash_loop` with exit code 3, and its URL says so', async () => {
    const event = await waitFor('a crash_loop event on /events', async () => wsEvents.find((e) => e.type === 'crash_loop' && e.service === 'crash'), 60_000);
    expect(event.details.exitCode).toBe(3);
    expect(event.details.logs).toEqual(expect.arrayContaining(['crash is starting', 'something went wrong']));
    const state = JSON.parse(await docker(['inspect', '-f', '{{json .State}}', `${project}-crash-1`])) as { Running: boolean; Restarting: boolean; ExitCode: number };
    expect(state).toMatchObject({ Running: false, Restarting: false });
    const crash = rows.find((r) => r.service === 'crash')!;
    const res = await viaTunnel(crash.hostname!);
    expect(res.status).toBe(503);
    expect(res.body).toContain('crash loop');
    // The same events over SSE (the history comes first).
    const seen = new Set<string>();
    const sse = await sseEvents(await viaAgentTunnel(), (e) => (seen.add(e.type), seen.has('crash_loop') && seen.has('unhealthy')));
    expect(sse.find((e) => e.type === 'unhealthy')?.service).toBe('flaky');
    expect(sse.find((e) => e.type === 'crash_loop')?.details.exitCode).toBe(3);
  });

  it('serves a restarted service at its new address once healthy, never answering 502 after that', async () => {
    const api = rows.find((r) => r.service === 'api')!;
    const container = `${project}-api-1`;
    const ipOf = async (id = container) => (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).trim();
    const ipBefore = await ipOf();
    const statuses: { t: number; status: number }[] = [];
    let stop = false;
    const poller = (async () => {
      for (let i = 0; i < 400 && !stop; i++) {
        const t = Date.now();
        const status = await viaTunnel(api.hostname!, 3000).then((r) => r.status, () => 0);
        statuses.push({ t, status });
        await sleep(100);
      }
    })();
    await sleep(300);
    // Docker hands out the lowest free address: placeholders take the free ones, up to api's old
    // one, while api is stopped, so api comes back elsewhere and a proxy that cached it would fail.
    await docker(['stop', '-t', '1', container]);
    for (let i = 0; i < 16; i++) {
      const placeholder = await kit.container(['--network', `${project}_default`, 'busybox:latest', 'sleep', '600']);
      if ((await ipOf(placeholder)) === ipBefore) break;
    }
    await docker(['start', container]);
    const restarted = Date.now();
    const ipAfter = await ipOf();
    expect(ipAfter).not.toBe(ipBefore);
    await waitFor('api to serve after the restart', async () => (statuses.some((s) => s.t > restarted && s.status === 200) ? true : undefined), 30_000);
    // Two more seconds of polling at the new address: a stale route would show as 502 here.
    const served = statuses.length;
    await waitFor('20 more answers after the first 200', async () => (statuses.length >= served + 20 ? true : undefined), 30_000);
    stop = true;
    await poller;
    const firstOk = statuses.findIndex((s) => s.t > restarted && s.status === 200);
    const after = statuses.slice(firstOk).map((s) => s.status);
    expect(after.filter((s) => s !== 200)).toEqual([]);
    // While it was down or starting the page said so (503), never a bare 502.
    expect(statuses.map((s) => s.status).filter((s) => s !== 200 && s !== 503)).toEqual([]);
  });

  it('does not take restarts asked of docker for a crash loop', async () => {
    for (let i = 0; i < 3; i++) await docker(['restart', '-t', '0', `${project}-web-1`]);
    const web = rows.find((r) => r.service === 'web')!;
    await waitFor('web to serve after three restarts', async () => ((await viaTunnel(web.hostname!)).status === 200 ? true : undefined), 20_000);
    expect((await tunnels()).find((r) => r.service === 'web')?.state).toBe('ready');
    expect(wsEvents.filter((e) => e.type === 'crash_loop').map((e) => e.service)).toEqual(['crash']);
  });

  it('comes back after kill -9 of the agent (restart policy) and rebuilds its state from docker', async () => {
    const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', agentContainer])).trim());
    process.kill(pid, 'SIGKILL');
    await waitFor('the agent container to restart', async () => {
      const p = Number((await docker(['inspect', '-f', '{{.State.Pid}}', agentContainer])).trim());
      return p && p !== pid ? true : undefined;
    }, 20_000);
    // How fast is for `npm run bench` (scripts/bench/agent.mjs); here, that it comes back at all.
    await allServe(rows, 30_000);
    const list = await waitFor('the agent API after restart', () => tunnels(), 10_000);
    expect(list.find((r) => r.service === 'crash')?.state).toBe('crash_loop');
    expect(list.find((r) => r.service === 'api')?.state).toBe('ready');
  });

  it('reconnects after a tunnel server restart without touching the agent', async () => {
    const agentStarted = (await docker(['inspect', '-f', '{{.State.StartedAt}}', agentContainer])).trim();
    await server.stop();
    expect((await viaTunnel(rows[0]!.hostname!).catch((error: Error) => error)) instanceof Error).toBe(true);
    server = await startServer();
    await allServe(rows, 30_000);
    expect((await docker(['inspect', '-f', '{{.State.StartedAt}}', agentContainer])).trim()).toBe(agentStarted);
  });

  it('cancels the forward of a removed service: its URL is unknown (404), not "tunnel gone"', async () => {
    const crash = rows.find((r) => r.service === 'crash')!;
    await compose.compose(['rm', '--stop', '--force', 'crash']);
    const reply = await waitFor('the removed service to be unknown', async () => {
      const r = await viaTunnel(crash.hostname!).catch(() => undefined);
      return r?.headers['x-prevu-error'] && r.status !== 503 ? r : undefined;
    }, 20_000);
    expect(reply.status).toBe(404);
    expect((await tunnels()).map((r) => r.service)).not.toContain('crash');
    await allServe(rows, 10_000);
  });

  it('docker stop (SIGTERM) of the agent cancels every forward: 404s, exit code 0; docker start serves again', async () => {
    const container = agentContainer;
    const accountId = accountIdFromKeyBlob(Buffer.from(key.public.split(' ')[1]!, 'base64'));
    const hostnames = [...ready(rows).map((r) => r.hostname!), hostname(AGENT_SERVICE, envId, accountId, 'localhost')];
    const fresh = new UndiciAgent(); // new connections each time: the server closes those bound to a closed tunnel
    kit.defer('undici agent', () => fresh.close());
    const status = async (host: string) => (await httpGet(`http://127.0.0.1:${httpPort}/`, { headers: { host: `${host}:${httpPort}` }, dispatcher: fresh })).status;
    const started = Date.now();
    await docker(['stop', container]);
    const stopped = Date.now();
    await waitFor('every URL to be unknown', async () => ((await Promise.all(hostnames.map(status))).every((s) => s === 404) ? true : undefined), 10_000, 20);
    const all404 = Date.now();
    console.log(`docker stop of the agent: returned after ${stopped - started} ms; all ${hostnames.length} URLs 404 ${all404 - started} ms after it was called`);
    const state = JSON.parse(await docker(['inspect', '-f', '{{json .State}}', container])) as { ExitCode: number };
    expect(state.ExitCode).toBe(0);
    const logs = await docker(['logs', '--tail', '5', container]);
    expect(logs).toMatch(/"msg":"stopped"/);
    await docker(['start', container]);
    await allServe(rows, 30_000);
    await waitFor('the agent API back', async () => ((await tunnels()).every((r) => r.url) ? true : undefined), 10_000);
  });

  // Last: it leaves the agent disconnected on purpose.
  it('steps aside, without reconnecting, when a newer connection of the same key and env takes over', async () => {
    const other = new Client();
    kit.defer('second ssh client', () => other.end());
    await new Promise<void>((resolve, reject) => {
      other.once('ready', () => resolve());
      other.once('error', reject);
      other.connect({ host: '127.0.0.1', port: sshPort, username: envId, privateKey: key.private, strictVendor: false });
    });
    // The server closes the older connection once every one of its forwards is taken.
    const count = (service: string) => rows.filter((r) => r.service === service).length;
    for (const r of rows) {
      const name = count(r.service) === 1 ? r.service : `${r.service}-${r.port}`;
      await new Promise<void>((resolve, reject) => other.forwardIn(name, r.port, (error) => (error ? reject(error) : resolve())));
    }
    await new Promise<void>((resolve, reject) => other.openssh_forwardInStreamLocal('/prevu-agent#access=private', (error) => (error ? reject(error) : resolve())));
    const health = async () => JSON.parse((await agentGet('/healthz')).body) as { connected: boolean; replaced: boolean; lastError?: string };
    const after = await waitFor('the agent to be replaced', async () => ((await health()).replaced ? health() : undefined), 10_000);
    expect(after.connected).toBe(false);
    expect(after.lastError).toMatch(/^prevu-takeover:/);
    // The agent decides whether to reconnect when its connection closes, in the same tick, and
    // logs it: once the close is logged, the decision is in the log too.
    const agentLog = async () => (await compose.compose(['logs', '--no-log-prefix', 'prevu-agent'])).split('\n');
    const lines = await waitFor('the replaced connection to close', async () => {
      const all = await agentLog();
      const replaced = all.findIndex((l) => l.includes('not reconnecting'));
      return replaced >= 0 && all.slice(replaced).some((l) => l.includes('"msg":"disconnected from the tunnel server"')) ? all.slice(replaced) : undefined;
    }, 10_000);
    expect(lines.filter((l) => l.includes('"msg":"reconnecting to the tunnel server"'))).toEqual([]);
    expect((await health()).connected).toBe(false);
  });
});
