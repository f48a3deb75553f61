#!/usr/bin/env node
// `npm run bench:up`: the CLI's start-up (`prevu --version`, `prevu ls`: median of 5, target
// < 400 ms each), then how much `prevu up` / `prevu down` add to bare docker compose, same run,
// same files (examples/hello), warm images. Targets (issue 20): prevu up <= bare `up -d --wait`
// + 1 s, prevu down <= bare `down` + 0.5 s; over either, or over the start-up target, exits 1.
// Each side runs RUNS times alternately; the median is printed. prevu uses the embedded default
// with its own config dir and its own embedded server (own name, free ports), so a user's
// profiles and server are untouched; that server is removed at the end.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../packages/test-kit/dist/ports.js';

const root = resolve(import.meta.dirname, '..');
const hello = join(root, 'examples', 'hello');
const cli = join(root, 'packages', 'cli', 'bin', 'run.js');
const RUNS = Number(process.env.BENCH_RUNS || 3);
const config = mkdtempSync(join(tmpdir(), 'prevu-bench-'));
const env = {
  ...process.env,
  XDG_CONFIG_HOME: config,
  PREVU_EMBEDDED_NAME: 'prevu-bench-tunnel-server',
  PREVU_EMBEDDED_NETWORK: 'prevu-bench',
  PREVU_EMBEDDED_HTTP_PORT: String(await freePort()),
  PREVU_EMBEDDED_SSH_PORT: String(await freePort()),
  PREVU_EMBEDDED_MANAGEMENT_PORT: String(await freePort()),
};

function timed(what, command, args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, { cwd: hello, env, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return seconds;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = ['compose', '-p', 'prevu-bench-bare'];
let over = false;
try {
  // start-up: what every command pays before it does anything (the first `ls` makes the profile)
  timed('prevu ls (warm-up)', 'node', [cli, 'ls']);
  for (const args of [['--version'], ['ls']]) {
    const ms = median(Array.from({ length: 5 }, () => timed(`prevu ${args[0]}`, 'node', [cli, ...args]) * 1000));
    over ||= ms >= 400;
    console.log(`start-up: prevu ${args[0].padEnd(9)} ${ms.toFixed(0)} ms (median of 5, target < 400 ms)`);
  }
  // warm: images built, embedded server running (a one-time cost of the first `prevu up` ever)
  execFileSync('docker', [...bare, 'build', '-q'], { cwd: hello, env, stdio: 'ignore' });
  timed('prevu up (warm-up)', 'node', [cli, 'up', '--id', 'bench']);
  timed('prevu down (warm-up)', 'node', [cli, 'down', '--id', 'bench']);
  const r = { bareUp: [], bareDown: [], prevuUp: [], prevuDown: [] };
  for (let i = 0; i < RUNS; i++) {
    r.bareUp.push(timed('docker compose up', 'docker', [...bare, 'up', '-d', '--wait']));
    r.bareDown.push(timed('docker compose down', 'docker', [...bare, 'down']));
    r.prevuUp.push(timed('prevu up', 'node', [cli, 'up', '--id', 'bench']));
    r.prevuDown.push(timed('prevu down', 'node', [cli, 'down', '--id', 'bench']));
  }
  const row = (name, p, b) => `${name.padEnd(6)} prevu ${median(p).toFixed(2)} s   bare compose ${median(b).toFixed(2)} s   difference ${(median(p) - median(b)).toFixed(2)} s`;
  console.log(`examples/hello, warm images, median of ${RUNS} runs each (alternating):`);
  console.log(row('up', r.prevuUp, r.bareUp));
  console.log(row('down', r.prevuDown, r.bareDown));
  for (const [name, p, b, target] of [['up', r.prevuUp, r.bareUp, 1], ['down', r.prevuDown, r.bareDown, 0.5]]) {
    const extra = median(p) - median(b);
    over ||= extra > target;
    console.log(`${extra <= target ? 'OK' : 'OVER TARGET'}: prevu ${name} adds ${extra.toFixed(2)} s (target <= ${target} s)`);
  }
  process.exitCode = over ? 1 : 0;
} finally {
  spawnSync('docker', [...bare, 'down'], { cwd: hello, stdio: 'ignore' });
  spawnSync('node', [cli, 'down', '--id', 'bench'], { cwd: hello, env, stdio: 'ignore' });
  spawnSync('node', [cli, 'server', 'stop', '--purge'], { env, stdio: 'ignore' });
  rmSync(config, { recursive: true, force: true });
}
