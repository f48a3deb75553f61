// Wake-to-first-200 of an asleep env (examples/hello through the CLI, its embedded tunnel server)
// against bare `docker compose start` of the same stopped services, measured in the same run the
// same way: from the moment of the first request (or of `compose start`) until the web URL answers
// 200 through the tunnel server. Target: the wake adds < 3 s. Durations of seconds need
// PREVU_SHORT_DURATIONS=1 (the documented setting for tests and demos). Exit 1 over the target.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from '../../packages/test-kit/dist/http.js';
import { freePort } from '../../packages/test-kit/dist/ports.js';

const root = resolve(import.meta.dirname, '../..');
const hello = join(root, 'examples', 'hello');
const cli = join(root, 'packages', 'cli', 'bin', 'run.js');
const RUNS = Number(process.env.BENCH_RUNS || 3);
const id = `benchwake${process.pid}`;
const project = `prevu-${id}`;
const config = mkdtempSync(join(tmpdir(), 'prevu-bench-wake-'));
const env = {
  ...process.env,
  XDG_CONFIG_HOME: config,
  PREVU_SHORT_DURATIONS: '1',
  PREVU_EMBEDDED_NAME: `prevu-bench-wake-${process.pid}`,
  PREVU_EMBEDDED_NETWORK: `prevu-bench-wake-${process.pid}`,
  PREVU_EMBEDDED_HTTP_PORT: String(await freePort()),
  PREVU_EMBEDDED_SSH_PORT: String(await freePort()),
  PREVU_EMBEDDED_MANAGEMENT_PORT: String(await freePort()),
};

const prevu = (...args) => {
  const r = spawnSync('node', [cli, ...args], { cwd: hello, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prevu ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
};
const compose = (...args) => execFileSync('docker', ['compose', '-p', project, ...args], { cwd: hello, stdio: 'ignore' });
const running = () => execFileSync('docker', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}}'], { encoding: 'utf8' }).split('\n').filter((s) => s && s !== 'prevu-agent');

/** Polls `check` every 50 ms until it is true; the seconds it took, bounded by `limitMs`. */
async function secondsUntil(what, check, limitMs = 120_000) {
  const start = performance.now();
  while (!(await check().catch(() => false))) {
    if (performance.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await sleep(50);
  }
  return (performance.now() - start) / 1000;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  // pinned while `up` waits for its URLs; 2 s of idle time put it to sleep once unpinned
  const result = JSON.parse(prevu('up', '--json', '--id', id, '--pin', '--sleep-after', '2s').trim().split('\n').at(-1));
  const web = result.urls.find((u) => u.service === 'web').url;
  const ok = async () => (await httpGet(web, { timeoutMs: 5000 })).status === 200;
  const r = { wake: [], bare: [] };
  for (let i = 0; i < RUNS; i++) {
    // bare: the same services stopped by compose, started by compose (the env pinned meanwhile)
    prevu('pin', id);
    await secondsUntil('the services running', async () => running().length === 2);
    compose('stop', 'web', 'api');
    const startedBare = performance.now();
    compose('start', 'api', 'web');
    await secondsUntil('200 after compose start', ok);
    r.bare.push((performance.now() - startedBare) / 1000);
    // prevu: asleep after its idle time, then the first request wakes it
    prevu('unpin', id);
    await secondsUntil('the env asleep', async () => running().length === 0);
    await sleep(1000); // the agent records `asleep` right after the stop returns
    r.wake.push(await secondsUntil('200 after the wake', ok));
  }
  const wake = median(r.wake);
  const bare = median(r.bare);
  const runs = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  console.log(`wake (examples/hello, median of ${RUNS}): first request to first 200 ${wake.toFixed(2)} s   bare compose start to first 200 ${bare.toFixed(2)} s   difference ${(wake - bare).toFixed(2)} s   ratio ${(wake / bare).toFixed(2)}x`);
  console.log(`  runs: wake ${runs(r.wake)} s; bare ${runs(r.bare)} s`);
  console.log(wake - bare < 3 ? `OK: the wake adds ${(wake - bare).toFixed(2)} s (target < 3 s)` : `OVER TARGET: the wake adds ${(wake - bare).toFixed(2)} s (target < 3 s)`);
  process.exitCode = wake - bare < 3 ? 0 : 1;
} finally {
  spawnSync('node', [cli, 'down', '--id', id], { cwd: hello, env, stdio: 'ignore' });
  spawnSync('node', [cli, 'server', 'stop', '--purge'], { env, stdio: 'ignore' });
  rmSync(config, { recursive: true, force: true });
}
