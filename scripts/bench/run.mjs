// Runs the tunnel benchmark and prints the table. Everything on 127.0.0.1; every wrk run is
// bounded (BENCH_SECONDS, default 4 s). Exit 1 when a floor is missed (issue 4's against direct,
// issue 20's for the agent path against OpenSSH's `ssh -R`).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { accountIdFromKeyBlob, hostname } from '../../packages/core/dist/names.js';
import { ed25519KeyPair } from '../../packages/core/dist/ssh-keys.js';
import { freePort } from '../../packages/test-kit/dist/ports.js';
import { clusterBench } from './cluster.mjs';
import { scalingBench } from './scaling.mjs';
import { bundleAgentClient, imageRuntime } from './shipped-agent.mjs';

const root = resolve(import.meta.dirname, '../..');
const serverMain = join(root, 'packages/tunnel-server/dist/main.js');
const seconds = Number(process.env.BENCH_SECONDS || 4);
const work = mkdtempSync(join(tmpdir(), 'prevu-bench-'));
const children = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** Starts a process and resolves with it once a stdout line matches. */
function start(command, args, ready, env = {}) {
  return new Promise((res, rej) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.push(child);
    let out = '';
    const onData = (d) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) res({ child, match: m });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => rej(new Error(`${command} ${args.join(' ')} exited (${code}): ${out.slice(-500)}`)));
    setTimeout(() => rej(new Error(`${command} not ready in 20 s: ${out.slice(-500)}`)), 20_000).unref();
  });
}

function keyFile(name) {
  const pair = ed25519KeyPair();
  const path = join(work, name);
  execFileSync('sh', ['-c', `umask 077; cat > "${path}"`], { input: pair.private });
  return { path, blob: ssh2.utils.parseKey(pair.public).getPublicSSH() };
}

async function startServer(extra = []) {
  const [ssh, http, management] = [await freePort(), await freePort(), await freePort()];
  const { child, match } = await start(process.execPath, [serverMain, '--ssh-port', ssh, '--http-port', http, '--management-port', management, '--state-dir', mkdtempSync(join(work, 'state-')), '--listen', '127.0.0.1', ...extra].map(String), /^.*"msg":"ready".*$/m);
  return { child, ssh, http, ready: match[0] };
}

const UNITS = { us: 1e-3, ms: 1, s: 1000, B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
function wrk(url, connections, host, headers = [], { threads = Math.min(2, connections), script } = {}) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', ...(script ? ['-s', script] : []), ...(host ? ['-H', `Host: ${host}`] : []), ...headers.flatMap((h) => ['-H', h]), url];
  const out = execFileSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  const num = (re) => {
    const m = out.match(re);
    return m ? Number(m[1]) * (UNITS[m[2]] ?? 1) : NaN;
  };
  const errors = out.match(/Non-2xx or 3xx responses: (\d+)|Socket errors: .*/g);
  if (errors) process.stderr.write(`wrk ${url} (${host ?? 'direct'}): ${errors.join('; ')}\n`);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: num(/50%\s+([\d.]+)(us|ms|s)\b/),
    p99: num(/99%\s+([\d.]+)(us|ms|s)\b/),
    mbps: num(/Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/) / 1e6,
  };
}

/** HTTP/2 load with nghttp2's h2load: one connection, `streams` requests in flight, prior knowledge on the plain port. */
function h2load(url, host, streams) {
  const out = execFileSync('h2load', ['-c', '1', '-m', String(streams), '-D', String(seconds), '-H', `:authority: ${host}`, url], { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  const failed = /requests: .* (\d+) failed, (\d+) errored/.exec(out);
  if (!failed || failed[1] !== '0' || failed[2] !== '0' || !/status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx/.test(out)) process.stderr.write(`h2load ${url}: ${out.split('\n').filter((l) => /requests:|status codes/.test(l)).join('; ')}\n`);
  return { rps: Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN) };
}

/** Resident bytes now, or at the peak so far (VmHWM). */
function rss(pid, field = 'VmRSS') {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

const suite = (base, host) => ({
  one: wrk(`${base}/`, 1, host),
  twenty: wrk(`${base}/`, 20, host),
  big: wrk(`${base}/big`, 1, host),
});

const started = Date.now();
const { match: backendMatch } = await start(process.execPath, [join(import.meta.dirname, 'backend.mjs')], /^(\d+)$/m);
const backendPort = Number(backendMatch[1]);
const key = keyFile('bench-key');
// The agent's client as users run it: its bundle, the image's node flags and environment.
const runtime = imageRuntime();
const agentClient = await bundleAgentClient(work);
/** An agent client forwarding `count` services to the backend; `flags` are node's (the image's by default). */
const startAgent = (target, keyPath, { count = 1, tls = [], flags = runtime.flags } = {}) =>
  start(process.execPath, [...flags, agentClient, target, keyPath, backendPort, count, ...tls].map(String), /ready/, runtime.env);
const host = hostname('web-80', 'bench', accountIdFromKeyBlob(key.blob), 'localhost');

const results = {};
results.direct = suite(`http://127.0.0.1:${backendPort}`);

const server = await startServer();
const { child: agentChild } = await startAgent(server.ssh, key.path);
results.ssh2 = suite(`http://127.0.0.1:${server.http}`, host);
// HTTP/2 from the client (one connection, 20 streams) to the same HTTP/1.1 service, translated by the server (h2.ts).
results.h2 = h2load(`http://127.0.0.1:${server.http}/`, host, 20);
// The image's node flags as a measured choice: the same bundle without them, on the same server.
const bareKey = keyFile('bench-no-flags');
const { child: bareChild } = await startAgent(server.ssh, bareKey.path, { flags: [] });
results.noFlags = suite(`http://127.0.0.1:${server.http}`, hostname('web-80', 'bench', accountIdFromKeyBlob(bareKey.blob), 'localhost'));
const clientPeak = { shipped: rss(agentChild.pid, 'VmHWM'), noFlags: rss(bareChild.pid, 'VmHWM') };
bareChild.kill('SIGKILL');

// OpenSSH's own `ssh -R` as the reference client, on a second server so the two never mix.
const openssh = await startServer();
const ssh = spawn('ssh', ['-N', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', key.path, '-p', String(openssh.ssh), '-R', `web-80:80:127.0.0.1:${backendPort}`, 'bench@127.0.0.1'], { stdio: 'ignore' });
children.push(ssh);
for (let i = 0; i < 100; i++) {
  try {
    execFileSync('curl', ['-sf', '-o', '/dev/null', '-H', `Host: ${host}`, `http://127.0.0.1:${openssh.http}/`]);
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
results.openssh = suite(`http://127.0.0.1:${openssh.http}`, host);
openssh.child.kill('SIGKILL');
server.child.kill('SIGKILL');

// The reference the product goal names: OpenSSH's own sshd + `ssh -R`, no prevu at all.
results.sshd = await opensshReference().catch((error) => {
  process.stderr.write(`bench: OpenSSH reference skipped (${error.message.split('\n')[0]})\n`);
  return undefined;
});

async function opensshReference() {
  const [sshdPort, fwdPort] = [await freePort(), await freePort()];
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'sshd_host_key')]);
  const pub = ssh2.utils.parseKey(readFileSync(key.path)).getPublicSSH().toString('base64');
  execFileSync('sh', ['-c', `mkdir -p /run/sshd; echo "ssh-ed25519 ${pub}" > "${work}/authorized_keys"`]);
  const config = join(work, 'sshd_config');
  execFileSync('sh', ['-c', `cat > "${config}"`], {
    input: [`Port ${sshdPort}`, 'ListenAddress 127.0.0.1', `HostKey ${work}/sshd_host_key`, `AuthorizedKeysFile ${work}/authorized_keys`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'PermitRootLogin prohibit-password', `PidFile ${work}/sshd.pid`, 'AllowTcpForwarding yes', ''].join('\n'),
  });
  await start('/usr/sbin/sshd', ['-D', '-e', '-f', config], /Server listening/);
  const user = (await import('node:os')).userInfo().username;
  const fwd = spawn('ssh', ['-N', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', key.path, '-p', String(sshdPort), '-R', `127.0.0.1:${fwdPort}:127.0.0.1:${backendPort}`, `${user}@127.0.0.1`], { stdio: 'ignore' });
  children.push(fwd);
  for (let i = 0; ; i++) {
    try {
      execFileSync('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${fwdPort}/`]);
      break;
    } catch {
      if (i > 100) throw new Error('ssh -R to sshd did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return suite(`http://127.0.0.1:${fwdPort}`);
}

// The agent path over SSH inside TLS (443 mode) against plain SSH: one server with TLS, one agent
// client on each, visitors over HTTPS to both (wrk does not check the certificate), same run.
const tlsServer = await startServer(['--dev-tls', '--base-domain', 'bench.test', '--https-port', await freePort()]);
const { ports: { https: httpsPort }, devCa } = JSON.parse(tlsServer.ready);
const plainKey = keyFile('bench-plain');
const tlsKey = keyFile('bench-tls');
await startAgent(tlsServer.ssh, plainKey.path);
await startAgent(`tls://127.0.0.1:${httpsPort}`, tlsKey.path, { tls: [devCa, 'ssh.bench.test'] });
results.agentPlain = suite(`https://127.0.0.1:${httpsPort}`, hostname('web-80', 'bench', accountIdFromKeyBlob(plainKey.blob), 'bench.test'));
results.agentTls = suite(`https://127.0.0.1:${httpsPort}`, hostname('web-80', 'bench', accountIdFromKeyBlob(tlsKey.blob), 'bench.test'));
tlsServer.child.kill('SIGKILL');

// RSS with 1,000 registered tunnels: 10 accounts x 100 forwards on a fresh server.
const many = await startServer(['--max-forwards-per-connection', '100']);
const idleRss = rss(many.child.pid);
await Promise.all(Array.from({ length: 10 }, (_, i) => startAgent(many.ssh, keyFile(`k${i}`).path, { count: 100 })));
await new Promise((r) => setTimeout(r, 500));
const manyRss = rss(many.child.pid);

const f = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const ratio = (a, b) => `${f(a / b, 2)}x`;
const added = (ms) => `${ms >= 0 ? '+' : ''}${f(ms, 3)} ms`;
const d = results.direct;
const rows = [
  ['req/s, 1 conn', (r) => f(r.one.rps), (r) => ratio(r.one.rps, d.one.rps)],
  ['req/s, 20 conns', (r) => f(r.twenty.rps), (r) => ratio(r.twenty.rps, d.twenty.rps)],
  ['p50 latency, 1 conn (ms)', (r) => f(r.one.p50, 3), (r) => added(r.one.p50 - d.one.p50)],
  ['p99 latency, 1 conn (ms)', (r) => f(r.one.p99, 3), (r) => added(r.one.p99 - d.one.p99)],
  ['p50 latency, 20 conns (ms)', (r) => f(r.twenty.p50, 3), (r) => ratio(r.twenty.p50, d.twenty.p50)],
  ['10 MiB body, 1 conn (MB/s)', (r) => f(r.big.mbps), (r) => ratio(r.big.mbps, d.big.mbps)],
];
const ref = results.sshd;
const lines = [
  `| metric | direct | prevu, agent client | vs direct | prevu, OpenSSH client | vs direct | OpenSSH sshd + ssh -R | vs direct |`,
  `|---|---|---|---|---|---|---|---|`,
  ...rows.map(([name, value, cmp]) => `| ${name} | ${value(d)} | ${value(results.ssh2)} | ${cmp(results.ssh2)} | ${value(results.openssh)} | ${cmp(results.openssh)} | ${ref ? value(ref) : 'n/a'} | ${ref ? cmp(ref) : 'n/a'} |`),
  `| RSS, 1,000 tunnels (MB) | - | ${f(manyRss / 1e6)} (idle ${f(idleRss / 1e6)}) | - | - | - | - | - |`,
  '',
  `| HTTP/2 (one connection, 20 streams) to the HTTP/1.1 service | prevu, agent client | vs HTTP/1.1 at 20 conns, same run |`,
  `|---|---|---|`,
  `| req/s | ${f(results.h2.rps)} | ${ratio(results.h2.rps, results.ssh2.twenty.rps)} |`,
];
console.log(lines.join('\n'));
const [shipped, noFlags] = [results.ssh2, results.noFlags];
console.log(
  [
    '',
    `| agent client runtime | image flags (${runtime.flags.join(' ')}) | no flags | image vs none |`,
    '|---|---|---|---|',
    `| req/s, 1 conn | ${f(shipped.one.rps)} | ${f(noFlags.one.rps)} | ${ratio(shipped.one.rps, noFlags.one.rps)} |`,
    `| req/s, 20 conns | ${f(shipped.twenty.rps)} | ${f(noFlags.twenty.rps)} | ${ratio(shipped.twenty.rps, noFlags.twenty.rps)} |`,
    `| 10 MiB body, 1 conn (MB/s) | ${f(shipped.big.mbps)} | ${f(noFlags.big.mbps)} | ${ratio(shipped.big.mbps, noFlags.big.mbps)} |`,
    `| client peak RSS (MB) | ${f(clientPeak.shipped / 1e6)} | ${f(clientPeak.noFlags / 1e6)} | ${ratio(clientPeak.shipped, clientPeak.noFlags)} |`,
  ].join('\n'),
);
const [plain, overTls] = [results.agentPlain, results.agentTls];
console.log(
  [
    '',
    '| agent path, HTTPS visitors | agent over plain SSH | agent over SSH in TLS (443 mode) | TLS vs plain |',
    '|---|---|---|---|',
    ...[
      ['req/s, 1 conn', (r) => r.one.rps],
      ['req/s, 20 conns', (r) => r.twenty.rps],
      ['p50 latency, 1 conn (ms)', (r) => r.one.p50, 'ms'],
      ['p99 latency, 1 conn (ms)', (r) => r.one.p99, 'ms'],
      ['10 MiB body, 1 conn (MB/s)', (r) => r.big.mbps],
    ].map(([name, get, ms]) => `| ${name} | ${f(get(plain), ms ? 3 : 0)} | ${f(get(overTls), ms ? 3 : 0)} | ${ms ? added(get(overTls) - get(plain)) : ratio(get(overTls), get(plain))} |`),
  ].join('\n'),
);
console.log('');
console.log(await clusterBench({ start, startServer, startAgent, wrk, work, key, host, f, ratio, added }));
console.log('');
console.log(await scalingBench({ startServer, startAgent, wrk, work, keyFile, rss, f, ratio }));

const t = results.ssh2;
const floors = [
  ['req/s at 20 conns >= 15% of direct', t.twenty.rps >= 0.15 * d.twenty.rps],
  ['p50 added latency at 1 conn <= 2 ms', t.one.p50 - d.one.p50 <= 2],
  ['10 MiB at >= 100 MB/s', t.big.mbps >= 100],
  // issue 4 asked 200 MB, issue 20 100
  ['1,000 tunnels in <= 100 MB RSS', manyRss <= 100e6],
];
// Issue 20's verdict: the agent's path against OpenSSH's own sshd + `ssh -R`, same run.
if (ref) {
  const r1 = t.one.rps / ref.one.rps;
  const r20 = t.twenty.rps / ref.twenty.rps;
  const rbig = t.big.mbps / ref.big.mbps;
  console.log(`\nagent path vs ssh -R: ${f(r1, 2)}x at 1 conn, ${f(r20, 2)}x at 20 conns, ${f(rbig, 2)}x at 10 MiB; p99 at 1 conn ${f(t.one.p99, 3)} ms vs ssh -R p50 ${f(ref.one.p50, 3)} ms`);
  floors.push(
    ['agent path >= 1.3x ssh -R req/s at 1 conn', r1 >= 1.3],
    ['agent path >= 1.6x ssh -R req/s at 20 conns', r20 >= 1.6],
    ['agent path >= 1.6x ssh -R for a 10 MiB body', rbig >= 1.6],
    ['agent path p99 at 1 conn within 1 ms of ssh -R p50', t.one.p99 - ref.one.p50 <= 1],
  );
} else floors.push(['the OpenSSH sshd + ssh -R reference ran (sshd missing?)', false]);
console.log('');
for (const [what, ok] of floors) console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
console.log(`\n(wrk ${seconds} s per cell, ${Math.round((Date.now() - started) / 1000)} s in all; ${(await import('node:os')).cpus().length} cores shared with whatever else runs)`);
cleanup();
process.exit(floors.every(([, ok]) => ok) ? 0 : 1);
