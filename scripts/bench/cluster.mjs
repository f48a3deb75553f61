// The cluster rows of `npm run bench` (issue 21): one tunnel on node A of two nodes sharing a
// throwaway redis-server, asked through A (the owner) and through B (the hop to A), same run.
// Keep-alive rows pay the hop once per connection; `Connection: close` rows pay the directory
// lookup and the hop dial on every request. Called by run.mjs with its helpers.
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../../packages/test-kit/dist/ports.js';

export async function clusterBench({ start, startServer, startAgent, wrk, work, key, host, f, ratio, added }) {
  const redisPort = await freePort();
  await start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  const secret = join(work, 'cluster.secret');
  writeFileSync(secret, randomBytes(32).toString('hex'), { mode: 0o600 });
  const node = async () => startServer(['--redis', `redis://127.0.0.1:${redisPort}`, '--cluster-secret-file', secret, '--cluster-port', await freePort(), '--cluster-host', '127.0.0.1']);
  const [owner, other] = [await node(), await node()];
  await startAgent(owner.ssh, key.path);
  const close = ['Connection: close'];
  const cells = (base) => ({ one: wrk(`${base}/`, 1, host), twenty: wrk(`${base}/`, 20, host), fresh: wrk(`${base}/`, 1, host, close) });
  const a = cells(`http://127.0.0.1:${owner.http}`);
  const b = cells(`http://127.0.0.1:${other.http}`);
  const rows = [
    ['req/s, 1 conn', (r) => f(r.one.rps), (x, y) => ratio(y.one.rps, x.one.rps)],
    ['req/s, 20 conns', (r) => f(r.twenty.rps), (x, y) => ratio(y.twenty.rps, x.twenty.rps)],
    ['p50 latency, 1 conn (ms)', (r) => f(r.one.p50, 3), (x, y) => `${ratio(y.one.p50, x.one.p50)} (${added(y.one.p50 - x.one.p50)})`],
    ['req/s, 1 conn, a new connection each request', (r) => f(r.fresh.rps), (x, y) => ratio(y.fresh.rps, x.fresh.rps)],
    ['p50 latency, a new connection each request (ms)', (r) => f(r.fresh.p50, 3), (x, y) => `${ratio(y.fresh.p50, x.fresh.p50)} (${added(y.fresh.p50 - x.fresh.p50)})`],
  ];
  return [
    '| cluster (2 nodes, Redis) | through the owner node | through another node (hop) | hop vs owner |',
    '|---|---|---|---|',
    ...rows.map(([name, value, cmp]) => `| ${name} | ${value(a)} | ${value(b)} | ${cmp(a, b)} |`),
  ].join('\n');
}
