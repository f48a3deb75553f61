// The scaling row of `npm run bench` (issue 20): req/s through one tunnel server carrying 50 envs
// (50 accounts, 2 tunnels each) with 200 connections spread over their 100 hostnames, against a
// server carrying 1 env (its 2 tunnels, the same 200 connections): how the server's cost grows with
// tenants. Each case gets a fresh server, and all its envs run in one agent-client process (each
// env its own SSH connection) so that both cases have the same processes on the 2 cores: what
// differs is the server's tenants. Called by run.mjs with its helpers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountIdFromKeyBlob, hostname } from '../../packages/core/dist/names.js';

const CONNECTIONS = 200;
// wrk sets headers per thread, not per connection: 100 threads of 2 connections, each thread
// with one hostname (wrk-hosts.lua below), in both cases so that the load is shaped the same
const THREADS = 100;
// every visitor is 127.0.0.1 here: the per-address limits meant for one visitor of many would
// cap the 1-env case (200 channels on one SSH connection), and 50 agents log in at once
const SERVER_FLAGS = ['--max-channels-per-visitor', '1000', '--max-unauthenticated-per-address', '100'];

/** `wrk -s` script: thread i asks hosts[i mod n] on each of its connections. */
function hostsScript(work, name, hosts) {
  const file = join(work, `${name}.lua`);
  writeFileSync(
    file,
    `local hosts = { ${hosts.map((h) => JSON.stringify(h)).join(', ')} }
local n = 0
function setup(thread)
  n = n + 1
  thread:set("host", hosts[(n - 1) % #hosts + 1])
end
function init(args)
  wrk.headers["Host"] = host
end
`,
  );
  return file;
}

export async function scalingBench({ startServer, startAgent, wrk, work, keyFile, rss, f, ratio }) {
  const run = async (envs) => {
    const server = await startServer(SERVER_FLAGS);
    const keys = Array.from({ length: envs }, (_, i) => keyFile(`scaling-${envs}-${i}`));
    // 50 agents in one process: one agent's heap limits (the image's flags) are not theirs
    const agents = await startAgent(server.ssh, keys.map((k) => k.path).join(','), { count: 2, flags: [] });
    const hosts = keys.flatMap((k) => ['svc0-80', 'svc1-80'].map((forward) => hostname(forward, 'bench', accountIdFromKeyBlob(k.blob), 'localhost')));
    const result = { ...wrk(`http://127.0.0.1:${server.http}/`, CONNECTIONS, undefined, [], { threads: THREADS, script: hostsScript(work, `scaling-${envs}`, hosts) }), rss: rss(server.child.pid) };
    // gone before the next case, which must not share the cores with them
    agents.child.kill('SIGKILL');
    server.child.kill('SIGKILL');
    return result;
  };
  const one = await run(1);
  const many = await run(50);
  return [
    `| scaling: one tunnel server, ${CONNECTIONS} conns over every tunnel | 1 env (2 tunnels) | 50 envs (100 tunnels) | 50 envs vs 1 |`,
    '|---|---|---|---|',
    `| req/s | ${f(one.rps)} | ${f(many.rps)} | ${ratio(many.rps, one.rps)} |`,
    `| p50 latency (ms) | ${f(one.p50, 3)} | ${f(many.p50, 3)} | ${ratio(many.p50, one.p50)} |`,
    `| server RSS after the run (MB) | ${f(one.rss / 1e6)} | ${f(many.rss / 1e6)} | ${ratio(many.rss, one.rss)} |`,
  ].join('\n');
}
