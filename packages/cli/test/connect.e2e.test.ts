// `prevu connect`: a service that speaks RESP, not HTTP (a tiny Redis-protocol server in node),
// deployed by `prevu up` on the embedded tunnel server, answered on a local port through the
// tunnel server and the env's agent; another key is refused in one line. Its port is labelled
// `prevu.expose: "tcp:6379"`: no public URL (HTTP gets 401), connect only. Real Docker and SSH.
import net from 'node:net';
import { freePort, httpGet, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliHome, embeddedCliHome, errorLines, projectDir, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;

/** RESP: PING -> +PONG, ECHO x -> bulk x, anything else an error; enough for redis-cli and raw clients. */
const RESP_SERVER = `
const net = require('node:net');
net.createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    let m;
    while ((m = /^\\*(\\d+)\\r\\n((?:\\$\\d+\\r\\n[^\\r]*\\r\\n)*)/.exec(buf)) && m[2].split('\\r\\n').length - 1 === 2 * Number(m[1])) {
      buf = buf.slice(m[0].length);
      const args = m[2].split('\\r\\n').filter((_, i) => i % 2 === 1);
      const cmd = args[0].toUpperCase();
      s.write(cmd === 'PING' ? '+PONG\\r\\n' : cmd === 'ECHO' ? '$' + Buffer.byteLength(args[1]) + '\\r\\n' + args[1] + '\\r\\n' : '-ERR unknown command\\r\\n');
    }
  });
  s.on('error', () => s.destroy());
}).listen(6379, () => console.log('resp: listening on 6379'));
`;

/** One RESP command on a fresh connection to 127.0.0.1:port; the first reply. */
function resp(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    let reply = '';
    socket.on('data', (text: string) => {
      reply += text;
      if (/\r\n$/.test(reply) && !/^\$\d+\r\n$/.test(reply)) {
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(reply));
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
});

describe('prevu connect', () => {
  const id = uniqueName('resp');
  let dir: string;
  let webUrl: string;

  beforeAll(async () => {
    dir = projectDir(kit, {
      'compose.yaml': [
        'services:',
        '  cache:',
        '    image: node:20-slim',
        `    command: ["node", "-e", ${JSON.stringify(RESP_SERVER)}]`,
        '    expose: ["6379"]',
        '    labels: { prevu.expose: "tcp:6379" }',
        '  web:',
        '    image: busybox:latest',
        '    init: true',
        '    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]',
        '    expose: ["80"]',
        '',
      ].join('\n'),
    });
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--id', id], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    webUrl = /https?:\/\/web-\S+/.exec(up.stdout)![0];
  });

  it('gives the tcp: port no URL: not in the table, and HTTP to its hostname is refused (401, private)', async () => {
    const urls = await cli.run(['urls', '--id', id, '--json'], { cwd: dir });
    expect((JSON.parse(urls.stdout) as { urls: { service: string }[] }).urls.map((u) => u.service)).toEqual(['web']);
    // the same name under the URL rule, with `cache` for `web`: registered as a private tunnel
    const cacheUrl = webUrl.replace('//web-', '//cache-');
    expect(await waitFor('the cache tunnel', async () => ((await httpGet(cacheUrl)).status === 401 ? 401 : undefined))).toBe(401);
  });

  it('forwards a local port to the RESP service through the tunnel server until Ctrl-C (exit 130)', async () => {
    const local = await freePort();
    const proc = await kit.start({ command: 'node', args: [CLI, 'connect', 'cache', '--id', id, '--port', '6379', '--local-port', String(local)], cwd: dir, env: cli.env, readyLine: /-> cache:6379 of env/ });
    expect(proc.output()).toContain(`127.0.0.1:${local} -> cache:6379 of env "${id}" (Ctrl-C stops)`);
    expect(await resp(local, 'PING')).toBe('+PONG\r\n');
    // several connections at once, each its own channel
    const echoes = await Promise.all(['a', 'bb', 'ccc'].map((text) => resp(local, 'ECHO', text)));
    expect(echoes).toEqual(['$1\r\na\r\n', '$2\r\nbb\r\n', '$3\r\nccc\r\n']);
    expect(await proc.stop('SIGINT')).toBe(130);
    expect(proc.output()).toContain('interrupted: stopped');
  });

  it('takes a free local port when none is given', async () => {
    const proc = await kit.start({ command: 'node', args: [CLI, 'connect', 'cache', '--id', id], cwd: dir, env: cli.env, readyLine: /-> cache:6379 of env/ });
    const port = Number(/127\.0\.0\.1:(\d+) ->/.exec(proc.output())![1]);
    expect(await waitFor('PONG', async () => ((await resp(port, 'PING')) === '+PONG\r\n' ? true : undefined))).toBe(true);
    expect(await proc.stop('SIGINT')).toBe(130);
  });

  it('refuses another key, an unknown service, a port the service does not have and a busy local port, in one line', async () => {
    // another account on the same tunnel server: the same env id names nothing of its own
    const other = cliHome(kit, Object.fromEntries(Object.entries(cli.env).filter(([k]) => k.startsWith('PREVU_EMBEDDED_'))));
    const stranger = await other.run(['connect', 'cache', '--id', id], { cwd: dir });
    expect([stranger.code, errorLines(stranger.stderr)]).toEqual([1, [`prevu: env "${id}" has no tunnel for service "cache" held by this key (it has none): check the service and --id with \`prevu urls\`; only the key that deployed an env connects to it`]]);
    const unknown = await cli.run(['connect', 'nope', '--id', id], { cwd: dir });
    expect([unknown.code, errorLines(unknown.stderr)]).toEqual([1, [expect.stringMatching(new RegExp(`^prevu: env "${id}" has no tunnel for service "nope" held by this key \\(its tunnels: cache, prevu-agent, web\\): `))]]);
    // a local port something else holds: one line, nothing left listening
    const busy = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    kit.defer('busy port', () => new Promise<void>((r) => busy.close(() => r())));
    const taken = (busy.address() as net.AddressInfo).port;
    const inUse = await cli.run(['connect', 'cache', '--id', id, '--local-port', String(taken)], { cwd: dir });
    expect([inUse.code, errorLines(inUse.stderr)]).toEqual([1, [`prevu: cannot listen on 127.0.0.1:${taken} (EADDRINUSE): pick another --local-port, or leave it out for a free one`]]);
    const port = await cli.run(['connect', 'cache', '--id', id, '--port', '5432'], { cwd: dir });
    expect([port.code, errorLines(port.stderr)]).toEqual([1, [expect.stringMatching(new RegExp(`^prevu: env "${id}" has no tunnel for service "cache" on port 5432 held by this key \\(its tunnels: cache, prevu-agent, web\\): `))]]);
  });
});
