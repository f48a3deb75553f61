// End to end: a real tunnel server process on the host, a compose project on the real Docker
// engine with the agent built from dist/agent.mjs, and HTTP requests through the tunnel server.
import { existsSync, readFileSync } from 'node:fs';
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
    ports: ["127.0.0.1::3000"]
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
  hidden:
    image: busybox:latest
    init: true
    command: ${httpd({ 80: 'hidden-body' })}
    expose: ["80"]
    labels: { prevu.expose: "false" }
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

async function apiBase(): Promise<string> {
  const out = await compose.compose(['port', 'prevu-agent', '3000']);
  return `http://${out.trim()}`;
}

async function tunnels(): Promise<Row[]> {
  const res = await httpGet(`${await apiBase()}/tunnels`, { timeoutMs: 3000 });
  return JSON.parse(res.body) as Row[];
}

/** GET through the tunnel server, by Host header, on loopback. */
async function viaTunnel(hostname: string, timeoutMs = 5000) {
  return httpGet(`http://127.0.0.1:${httpPort}/`, { headers: { host: `${hostname}:${httpPort}` }, timeoutMs });
}

const ready = (rows: Row[]) => rows.filter((r) => r.service !== 'crash' && r.service !== 'flaky');

/** Polls until every routable URL answers 200 with its body; returns the ms it took. */
async function allServe(rows: Row[], timeoutMs: number): Promise<number> {
  const start = Date.now();
  await waitFor(
    'every URL to serve',
    async () => {
      const results = await Promise.all(ready(rows).map((r) => viaTunnel(r.hostname!, 2000).catch(() => undefined)));
      return results.every((res, i) => res?.status === 200 && res.body.includes(`${ready(rows)[i]!.service}`)) ? true : undefined;
    },
    timeoutMs,
    100,
  );
  return Date.now() - start;
}

function connectEvents(base: string): void {
  ws = new WebSocket(`${base.replace('http', 'ws')}/events`);
  ws.on('message', (data) => wsEvents.push(JSON.parse(String(data)) as Ev));
  ws.on('error', () => {});
}

/** Reads an SSE stream until `until` matches an event (bounded by 10 s). */
async function sseEvents(url: string, until: (e: Ev) => boolean): Promise<Ev[]> {
  const abort = AbortSignal.timeout(10_000);
  const res = await request(url, { signal: abort });
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
      return list.length === 9 && list.every((r) => r.url) ? list : undefined;
    },
    60_000,
    250,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\nagent logs:\n${(await compose.compose(['logs', '--tail', '40', 'prevu-agent'])).slice(-6000)}\nserver:\n${server.output().slice(-3000)}`);
  });
  connectEvents(await apiBase());
}, 150_000);

afterAll(() => ws?.close());

describe('compose tunnel agent', () => {
  it('gives every exposed port a URL that answers with its body', async () => {
    const byName = Object.fromEntries(rows.map((r) => [`${r.service}:${r.port}`, r]));
    expect(Object.keys(byName).sort()).toEqual(['api:80', 'crash:80', 'flaky:80', 'front:80', 'many:9001', 'many:9003', 'multi:8081', 'multi:8082', 'web:80']);
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
  });

  it('serves its own API through the private `prevu-agent` tunnel, to the account key only', async () => {
    const accountId = accountIdFromKeyBlob(Buffer.from(key.public.split(' ')[1]!, 'base64'));
    const client = new AgentClient({ envId, accountId, baseUrl: `http://localhost:${httpPort}`, privateKey: key.private });
    const list = await client.tunnels();
    expect(list?.map((r) => r.hostname).sort()).toEqual(rows.map((r) => r.hostname).sort());
    const anonymous = await viaTunnel(new URL(client.url).hostname);
    expect(anonymous.status).toBe(401);
  });

  it('reports a failing healthcheck as `unhealthy` with log lines, and answers 503 meanwhile', async () => {
    await compose.compose(['exec', '-T', 'flaky', 'touch', '/tmp/fail']);
    const event = await waitFor('an unhealthy event on /events', async () => wsEvents.find((e) => e.type === 'unhealthy' && e.service === 'flaky'), 30_000);
    expect(event.envId).toBe(envId);
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
    const base = await apiBase();
    const tail = await httpGet(`${base}/logs/flaky?tail=3`);
    expect(tail.status).toBe(200);
    expect(tail.body).toBe('flaky log line 23\nflaky log line 24\nflaky log line 25\n');
    expect((await httpGet(`${base}/logs/nope`)).status).toBe(404);
    expect(await httpGet(`${base}/logs/flaky?tail=0`)).toMatchObject({ status: 200, body: '' });
    expect((await httpGet(`${base}/logs/flaky?tail=10001`)).status).toBe(400);
    const follow = await request(`${base}/logs/flaky?tail=2&follow=1`, { signal: AbortSignal.timeout(10_000) });
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
    const sse = await sseEvents(`${await apiBase()}/events`, (e) => (seen.add(e.type), seen.has('crash_loop') && seen.has('unhealthy')));
    expect(sse.find((e) => e.type === 'unhealthy')?.service).toBe('flaky');
    expect(sse.find((e) => e.type === 'crash_loop')?.details.exitCode).toBe(3);
  });

  it('serves a restarted service again once healthy, never answering 502 after that', async () => {
    const api = rows.find((r) => r.service === 'api')!;
    const ipOf = async () => (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', `${project}-api-1`])).trim();
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
    await docker(['restart', '-t', '1', `${project}-api-1`]);
    const restarted = Date.now();
    await waitFor('api to serve after the restart', async () => (statuses.some((s) => s.t > restarted && s.status === 200) ? true : undefined), 30_000);
    await sleep(2000);
    stop = true;
    await poller;
    const firstOk = statuses.findIndex((s) => s.t > restarted && s.status === 200);
    const after = statuses.slice(firstOk).map((s) => s.status);
    console.log(`api restart: ip ${ipBefore} -> ${await ipOf()}; statuses ${statuses.map((s) => s.status).join(',')}`);
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
    const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', `${project}-prevu-agent-1`])).trim());
    const killed = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('the agent container to restart', async () => {
      const p = Number((await docker(['inspect', '-f', '{{.State.Pid}}', `${project}-prevu-agent-1`])).trim());
      return p && p !== pid ? true : undefined;
    }, 20_000);
    await allServe(rows, 20_000);
    const ms = Date.now() - killed;
    console.log(`agent kill -9 -> all URLs serve again after ${ms} ms`);
    expect(ms).toBeLessThanOrEqual(5000);
    const list = await waitFor('the agent API after restart', () => tunnels(), 10_000);
    expect(list.find((r) => r.service === 'crash')?.state).toBe('crash_loop');
    expect(list.find((r) => r.service === 'api')?.state).toBe('ready');
  });

  it('reconnects after a tunnel server restart without touching the agent', async () => {
    await server.stop();
    const down = Date.now();
    server = await startServer();
    const up = Date.now();
    await allServe(rows, 20_000);
    const ms = Date.now() - up;
    console.log(`tunnel server restart: down for ${up - down} ms, all URLs serve ${ms} ms after it was ready`);
    expect(ms).toBeLessThanOrEqual(5000);
  });

  it('runs 10 tunnels within the 60 MB RSS target (issue 5)', async () => {
    const list = await tunnels();
    // Some traffic first (bounded: 20 rounds over the serving URLs, 7 at a time), so the figure
    // is not the idle one.
    for (let round = 0; round < 20; round++) {
      await Promise.all(ready(list).map((r) => viaTunnel(r.hostname!)));
    }
    expect(list.length + 1).toBe(10); // + its own private API tunnel
    const pid = (await docker(['inspect', '-f', '{{.State.Pid}}', `${project}-prevu-agent-1`])).trim();
    const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const afterLoad = rssMb();
    const health = JSON.parse((await httpGet(`${await apiBase()}/healthz`)).body) as { heapUsedBytes: number; connected: boolean };
    expect(health.connected).toBe(true);
    await sleep(5000);
    const settled = rssMb();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => (Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)![1]) / 1024).toFixed(1);
    console.log(`agent RSS with ${list.length + 1} tunnels: ${afterLoad.toFixed(1)} MB right after ${20 * ready(list).length} requests, ${settled.toFixed(1)} MB 5 s later (anonymous ${field('RssAnon')} MB, file-backed ${field('RssFile')} MB, V8 heap used ${(health.heapUsedBytes / 1048576).toFixed(1)} MB)`);
    // A budget, not a timing: 52 MB measured with V8's lite mode, 58-64 MB without (README).
    expect(settled, 'agent RSS in MB with 10 tunnels').toBeLessThanOrEqual(60);
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
    const container = `${project}-prevu-agent-1`;
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
    const health = async () => JSON.parse((await httpGet(`${await apiBase()}/healthz`)).body) as { connected: boolean; replaced: boolean; lastError?: string };
    const after = await waitFor('the agent to be replaced', async () => ((await health()).replaced ? health() : undefined), 10_000);
    expect(after.connected).toBe(false);
    expect(after.lastError).toMatch(/^prevu-takeover:/);
    await sleep(3000); // longer than the first backoff steps: it must not have come back
    expect((await health()).connected).toBe(false);
  });
});
