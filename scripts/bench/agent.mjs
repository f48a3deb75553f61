// The agent as users run it (its image, its runtime flags, 10 tunnels through a real tunnel
// server): its memory, and how fast every URL serves again after the agent is killed -9 or the
// tunnel server restarts. Each figure is printed against a baseline measured in the same run and
// the target the agent README names (RSS <= 60 MB, recovery <= 5 s). Exit 1 when a target is missed.
// BENCH_AGENT_FLAGS="--no-opt ..." runs the image with other node flags (a measured choice of them).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { accountIdFromKeyBlob, hostname } from '../../packages/core/dist/names.js';
import { ed25519KeyPair } from '../../packages/core/dist/ssh-keys.js';
import { httpGet } from '../../packages/test-kit/dist/http.js';
import { freePort } from '../../packages/test-kit/dist/ports.js';

const root = resolve(import.meta.dirname, '../..');
const agentDir = join(root, 'packages/compose-tunnel-agent');
const serverMain = join(root, 'packages/tunnel-server/dist/main.js');
const work = mkdtempSync(join(tmpdir(), 'prevu-bench-agent-'));
const project = `prevu-bench-agent-${process.pid}`;
const envId = 'benchagent';
const children = new Set();

const docker = (...args) => execFileSync('docker', args, { encoding: 'utf8', cwd: work, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const compose = (...args) => docker('compose', '-p', project, ...args);
const pidOf = (container) => Number(docker('inspect', '-f', '{{.State.Pid}}', container));
const memoryMb = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)[1]) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
};

/** Polls `check` every 20 ms until it is true; the ms it took, bounded by `limitMs`. */
async function msUntil(what, check, limitMs = 60_000) {
  const start = performance.now();
  while (!(await check().catch(() => false))) {
    if (performance.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await sleep(20);
  }
  return performance.now() - start;
}

let server;
const ports = { ssh: await freePort('0.0.0.0'), http: await freePort(), management: await freePort() };
const stateDir = mkdtempSync(join(work, 'state-'));
function startServer() {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [serverMain, '--ssh-port', ports.ssh, '--http-port', ports.http, '--management-port', ports.management, '--base-domain', 'localhost', '--state-dir', stateDir, '--listen', '0.0.0.0'].map(String), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (/"msg":"ready"/.test(out)) res(child);
    });
    child.once('exit', (code) => {
      children.delete(child);
      rej(new Error(`tunnel server exited (${code}): ${out.slice(-500)}`));
    });
  });
}

// 9 exposed ports over 3 services, plus the agent's own private API tunnel: 10 tunnels.
const services = ['one', 'two', 'three'];
const portsOf = [8081, 8082, 8083];
const httpd = (service) => ['sh', '-c', portsOf.map((p) => `mkdir -p /www/${p} && echo ${service}-${p} > /www/${p}/index.html`).concat(portsOf.map((p, i) => `${i === portsOf.length - 1 ? 'exec httpd -f' : 'httpd'} -p ${p} -h /www/${p}`)).join(' && ')];
const flags = process.env.BENCH_AGENT_FLAGS?.split(/\s+/).filter(Boolean);
const key = ed25519KeyPair();
writeFileSync(join(work, 'prevu_key'), key.private, { mode: 0o600 });
const accountId = accountIdFromKeyBlob(ssh2.utils.parseKey(key.public).getPublicSSH());
const hosts = services.flatMap((s) => portsOf.map((p) => hostname(`${s}-${p}`, envId, accountId, 'localhost')));
writeFileSync(
  join(work, 'compose.yaml'),
  JSON.stringify({
    services: {
      'prevu-agent': {
        build: { context: agentDir },
        image: 'prevu-compose-tunnel-agent:bench',
        ...(flags ? { command: ['node', ...flags, '/agent/agent.mjs'] } : {}),
        restart: 'unless-stopped',
        environment: { PREVU_TUNNEL_SERVER: `host.docker.internal:${ports.ssh}`, PREVU_ENV_ID: envId, PREVU_COMPOSE_PROJECT: project },
        volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro'],
        secrets: ['prevu_key'],
        extra_hosts: ['host.docker.internal:host-gateway'],
      },
      ...Object.fromEntries(services.map((s) => [s, { image: 'busybox:latest', init: true, command: httpd(s), expose: portsOf.map(String) }])),
      idle: { image: 'node:20-slim', command: ['node', '-e', 'setInterval(() => {}, 1000)'] },
    },
    secrets: { prevu_key: { file: './prevu_key' } },
  }),
);

const allServe = async () => (await Promise.all(hosts.map((h) => httpGet(`http://127.0.0.1:${ports.http}/`, { headers: { host: h }, timeoutMs: 2000 })))).every((r) => r.status === 200);
const agent = `${project}-prevu-agent-1`;
const results = [];
const row = (what, value, baselineName, baseline, target, ok) => results.push({ what, value, baselineName, baseline, target, ok });

try {
  server = await startServer();
  compose('up', '-d', '--build');
  await msUntil('every URL to serve', allServe, 90_000);

  // Memory after some traffic (bounded: 20 rounds over the 9 URLs), then settled.
  for (let round = 0; round < 20; round++) await allServe();
  await sleep(5000);
  const mem = memoryMb(pidOf(agent));
  const idle = memoryMb(pidOf(`${project}-idle-1`));
  row('agent RSS, 10 tunnels (MB)', mem.rss, 'an idle node in the same image', idle.rss, '<= 60', mem.rss <= 60);
  row('agent peak RSS (VmHWM, MB)', mem.peak, 'an idle node in the same image', idle.peak, '', true);
  // Under load: 20 connections spread over the 9 URLs for 3 s (wrk, bounded), RSS read meanwhile.
  const load = spawn('sh', ['-c', hosts.map((h) => `wrk -t 1 -c 2 -d 3s -H 'Host: ${h}' http://127.0.0.1:${ports.http}/ >/dev/null`).join(' & ') + '; wait']);
  await sleep(2500);
  const loaded = memoryMb(pidOf(agent));
  await new Promise((r) => load.once('exit', r));
  row('agent RSS under load, 10 tunnels (MB)', loaded.rss, 'an idle node in the same image', idle.rss, '<= 60', loaded.rss <= 60);

  // kill -9: Docker restarts the container (restart policy), the agent rebuilds its state.
  const killed = pidOf(agent);
  process.kill(killed, 'SIGKILL');
  const restartedMs = await msUntil('docker to restart the agent', async () => {
    const pid = pidOf(agent);
    return pid !== 0 && pid !== killed;
  });
  const servingMs = restartedMs + (await msUntil('every URL after kill -9', allServe));
  row('kill -9 -> every URL serves (ms)', servingMs, 'docker restarting the container', restartedMs, '<= 5000', servingMs <= 5000);

  // Tunnel server restart: the agent reconnects with its backoff and re-applies every forward.
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const downAt = performance.now();
  server = await startServer();
  const readyMs = performance.now() - downAt;
  const backMs = await msUntil('every URL after the tunnel server restart', allServe);
  row('server restart -> every URL serves (ms, from ready)', backMs, 'the server starting', readyMs, '<= 5000', backMs <= 5000);
} finally {
  try {
    compose('down', '--volumes', '--timeout', '1');
  } catch (error) {
    process.stderr.write(`bench: compose down failed: ${error.message}\n`);
  }
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}

const f = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
console.log(`| agent (${flags ? `image with node ${flags.join(' ')}` : 'image as shipped'}, 10 tunnels) | value | baseline | baseline value | ratio | target |`);
console.log('|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.what} | ${f(r.value)} | ${r.baselineName} | ${f(r.baseline)} | ${(r.value / r.baseline).toFixed(2)}x | ${r.target || '-'} |`);
console.log('');
for (const r of results.filter((x) => x.target)) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.what} ${r.target}`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
