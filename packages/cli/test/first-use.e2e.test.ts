// What a user meets first, end to end on the embedded default: `prevu doctor` on a fresh profile
// and with an env up, compose profiles and a service with several ports picked by `prevu.expose`,
// and the embedded tunnel server stopped and started under a running env (its URLs come back
// without another `up`). One env, so the set-up is paid once.
import { docker, httpGet, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, projectDir, projectLeftovers, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
let dir: string;
const id = uniqueName('first');

// node:20-slim has no wget: its healthcheck is node itself
const nodeCheck = (ports: number[]) => `fetch('http://127.0.0.1:${ports[0]}')${ports.slice(1).map((p) => `.then(() => fetch('http://127.0.0.1:${p}'))`).join('')}.then(() => process.exit(0), () => process.exit(1))`;
const httpd = (body: string) => [
  '    image: busybox:latest',
  '    init: true',
  `    command: ["sh", "-c", "mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www"]`,
  '    expose: ["80"]',
  '    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], interval: 1s, retries: 30 }',
];
const COMPOSE = [
  'services:',
  '  web:',
  ...httpd('web'),
  // three ports, the label picks two: 8082 gets no URL
  '  multi:',
  '    image: node:20-slim',
  '    init: true',
  '    labels: { prevu.expose: "8081,8083" }',
  '    expose: ["8081", "8082", "8083"]',
  `    command: ["node", "-e", "for (const p of [8081, 8082, 8083]) require('http').createServer((q, s) => s.end('port ' + p)).listen(p)"]`,
  `    healthcheck: { test: ["CMD", "node", "-e", "${nodeCheck([8081, 8082, 8083])}"], interval: 1s, retries: 30 }`,
  // only with the compose profile `debug`
  '  debug:',
  '    profiles: ["debug"]',
  ...httpd('debug'),
  '',
].join('\n');

interface Row {
  service: string;
  port: number;
  url: string;
}

async function up(args: string[] = []): Promise<Row[]> {
  const r = await cli.run(['up', '--json', '--id', id, ...args], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { urls: Row[] }).urls;
}

/** [service:port, status, body] of each URL. */
const answers = async (rows: Row[]) =>
  Promise.all(
    rows.map(async (r) => {
      const res = await httpGet(r.url);
      return [`${r.service}:${r.port}`, res.status, res.body.trim()];
    }),
  );

async function doctor(): Promise<string[]> {
  const r = await cli.run(['doctor']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
}

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
  dir = projectDir(kit, { 'compose.yaml': COMPOSE });
  kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
});

describe('a first use of prevu', () => {
  let rows: Row[];

  it('doctor on a fresh profile: every check passes', async () => {
    const lines = await doctor();
    expect(lines.map((l) => /^(\S) ([^:]+):/.exec(l)?.slice(1))).toEqual([['✓', 'docker'], ['✓', 'profile'], ['✓', 'account key'], ['✓', 'tunnel server'], ['✓', 'host keys'], ['✓', 'driver local']]);
    expect(lines.at(-1)).toBe('✓ driver local: ready (0 env(s) of this profile)');
  });

  it('up: a service of a compose profile not enabled gets neither a container nor a URL; prevu.expose "8081,8083" gives exactly those two URLs', async () => {
    rows = await up();
    expect(rows.map((r) => `${r.service}:${r.port}`)).toEqual(['multi:8081', 'multi:8083', 'web:80']);
    expect(await answers(rows)).toEqual([['multi:8081', 200, 'port 8081'], ['multi:8083', 200, 'port 8083'], ['web:80', 200, 'web']]);
    // the port the label leaves out is not routed, though the service listens on it
    const hidden = await httpGet(rows[0]!.url.replace('-8081-', '-8082-'));
    expect([hidden.status, hidden.body]).toEqual([404, expect.stringContaining('No tunnel for this address')]);
    const services = (await docker(['ps', '--filter', `label=com.docker.compose.project=prevu-${id}`, '--format', '{{.Label "com.docker.compose.service"}}'])).trim().split('\n').sort();
    expect(services).toEqual(['multi', 'prevu-agent', 'web']);
  });

  it('doctor with the env up: every check passes and it counts the env', async () => {
    const lines = await doctor();
    expect(lines.every((l) => l.startsWith('✓ ')), lines.join('\n')).toBe(true);
    expect(lines).toContain(`✓ tunnel server: 127.0.0.1:${cli.env.PREVU_EMBEDDED_SSH_PORT} answers, base URL http://localhost:${cli.env.PREVU_EMBEDDED_HTTP_PORT}`);
    expect(lines.at(-1)).toBe('✓ driver local: ready (1 env(s) of this profile)');
  });

  it('server stop: the URLs stop answering; server start: every URL answers 200 again, without another up', async () => {
    const stop = await cli.run(['server', 'stop']);
    expect([stop.code, stop.stdout.trim()]).toEqual([0, `stopped ${cli.env.PREVU_EMBEDDED_NAME}`]);
    for (const r of rows) await expect(httpGet(r.url), r.url).rejects.toThrow(/ECONNREFUSED/);
    const start = await cli.run(['server', 'start']);
    expect(start.code, start.stderr).toBe(0);
    // the agent reconnects by itself and registers its forwards again
    for (const r of rows) await waitFor(`${r.url} to answer again`, async () => ((await httpGet(r.url)).status === 200 ? true : undefined), 30_000);
    expect(await answers(rows)).toEqual([['multi:8081', 200, 'port 8081'], ['multi:8083', 200, 'port 8083'], ['web:80', 200, 'web']]);
  });

  it('up --compose-profile debug adds the profile\'s service and its URL; the other URLs stay', async () => {
    const withDebug = await up(['--compose-profile', 'debug']);
    expect(withDebug.map((r) => `${r.service}:${r.port}`)).toEqual(['debug:80', 'multi:8081', 'multi:8083', 'web:80']);
    expect(withDebug.filter((r) => r.service !== 'debug')).toEqual(rows);
    expect(await answers(withDebug.filter((r) => r.service === 'debug'))).toEqual([['debug:80', 200, 'debug']]);
  });

  it('down removes every container, the profile\'s service included', async () => {
    const down = await cli.run(['down', '--id', id], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(await projectLeftovers(`prevu-${id}`)).toEqual([]);
  });
});
