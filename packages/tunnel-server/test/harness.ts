// Pieces the tunnel-server tests share: account keys, a backend with every kind of response the
// proxy must carry, tunnel clients (ssh2 in-process, OpenSSH as a process) and raw HTTP helpers.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { WebSocketServer } from 'ws';
import { accountIdFromKeyBlob, AGENT_SERVICE, hostname } from '@prevu/core/names';
import { startTunnelServer, type Kit, type TunnelServer } from '@prevu/test-kit';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';

/** Writes `chunk` `count` times with backpressure (waits for 'drain'), then ends the stream. */
export function writeChunks(stream: NodeJS.WritableStream, chunk: Buffer, count: number): void {
  let left = count;
  const pump = () => {
    while (left > 0) {
      left--;
      if (!stream.write(chunk)) return void stream.once('drain', pump);
    }
    stream.end();
  };
  pump();
}

export interface Account {
  privateKey: string;
  keyPath: string;
  blob: Buffer;
  accountId: string;
}

export function makeAccount(type: 'ed25519' | 'rsa' = 'ed25519'): Account {
  const pair = type === 'rsa' ? ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }) : ed25519KeyPair();
  const blob = (ssh2.utils.parseKey(pair.public) as ssh2.ParsedKey).getPublicSSH();
  const keyPath = join(mkdtempSync(join(tmpdir(), 'prevu-key-')), 'id');
  writeFileSync(keyPath, pair.private, { mode: 0o600 });
  writeFileSync(`${keyPath}.pub`, `${pair.public}\n`);
  return { privateKey: pair.private, keyPath, blob, accountId: accountIdFromKeyBlob(blob) };
}

export const hostOf = (account: Account, envId: string, forward: string, base = 'localhost') => hostname(forward, envId, account.accountId, base);

/**
 * Tunnel-server processes as the nodes of one cluster, one per Redis URL (the same Redis, or a way
 * to it the test can cut), sharing a cluster secret (random unless given).
 */
export async function startCluster(kit: Pick<Kit, 'start'>, redisUrls: string[], options: { secret?: string; args?: string[] } = {}): Promise<TunnelServer[]> {
  const secretFile = join(mkdtempSync(join(tmpdir(), 'prevu-cluster-')), 'secret');
  writeFileSync(secretFile, `${options.secret ?? randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return Promise.all(redisUrls.map((redis) => startTunnelServer(kit, { cluster: { redis, secretFile }, ...(options.args ? { args: options.args } : {}) })));
}

/** A backend: /echo (request as JSON), /sse (held open until released), /big?mib=N, /slow?ms=N, POST /upload, WebSocket echo. */
export async function startBackend(kit: Pick<Kit, 'defer'>, label = 'backend') {
  let releaseSse: () => void = () => undefined;
  const sseReleased = new Promise<void>((r) => (releaseSse = r));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      void sseReleased.then(() => res.end('data: last\n\n'));
    } else if (url.pathname === '/big') {
      const chunk = Buffer.alloc(256 * 1024, 'x');
      const count = Number(url.searchParams.get('mib') ?? '1') * 4;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(count * chunk.length) });
      writeChunks(res, chunk, count);
    } else if (url.pathname === '/slow') {
      setTimeout(() => res.end('finally'), Number(url.searchParams.get('ms') ?? '1000'));
    } else if (url.pathname === '/upload') {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    } else {
      const body = JSON.stringify({ label, method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ hello: label, headers: req.headers }));
    socket.on('message', (data, binary) => socket.send(data, { binary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  kit.defer(`${label} server`, () => {
    releaseSse();
    wss.close();
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { port, releaseSse };
}

export type Forward = { kind: 'tcpip'; name: string; port?: number } | { kind: 'streamlocal'; path: string };

/** An ssh2 client holding forwards to a local port, the way the agent does it. */
export async function ssh2Tunnel(kit: Pick<Kit, 'defer'>, options: { sshPort: number; envId: string; account: Account; forwards: Forward[]; target: number; sock?: Duplex }) {
  const client = new ssh2.Client();
  const errors: string[] = [];
  let closed = false;
  const connect = (channel: ssh2.ClientChannel | ssh2.Channel) => {
    const socket = net.connect(options.target, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('error', () => channel.destroy());
    channel.on('error', () => socket.destroy());
    channel.pipe(socket).pipe(channel);
  };
  client.on('tcp connection', (_info, accept) => connect(accept()));
  client.on('unix connection', (_info, accept) => connect(accept()));
  client.on('error', (error) => errors.push(error.message));
  client.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: options.sshPort, ...(options.sock ? { sock: options.sock } : {}), username: options.envId, privateKey: options.account.privateKey, keepaliveInterval: 5000, strictVendor: false });
  });
  client.setNoDelay(true);
  const results = await Promise.allSettled(
    options.forwards.map(
      (f) =>
        new Promise<void>((resolve, reject) => {
          if (f.kind === 'tcpip') client.forwardIn(f.name, f.port ?? 80, (error) => (error ? reject(error) : resolve()));
          else client.openssh_forwardInStreamLocal(f.path, (error) => (error ? reject(error) : resolve()));
        }),
    ),
  );
  kit.defer('ssh2 tunnel client', () => client.end());
  return {
    client,
    errors,
    refused: results.filter((r) => r.status === 'rejected').length,
    isClosed: () => closed,
    exec(command: string): Promise<string> {
      return new Promise((resolve, reject) => {
        client.exec(command, (error, stream) => {
          if (error) return reject(error);
          let out = '';
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.on('close', () => resolve(out));
        });
      });
    },
    /** Cancels a forward (cancel-tcpip-forward or cancel-streamlocal-forward) and waits for the reply. */
    unforward(f: Forward): Promise<void> {
      return new Promise((resolve, reject) => {
        const done = (error?: Error) => (error ? reject(error) : resolve());
        if (f.kind === 'tcpip') client.unforwardIn(f.name, f.port ?? 80, done);
        else client.openssh_unforwardInStreamLocal(f.path, done);
      });
    },
    close: () => client.end(),
  };
}

/** One env holding every kind of tunnel to one backend: public `web`, private `admin-80`, and the agent's own. */
export async function envOfEveryKind(kit: Pick<Kit, 'defer'>, options: { sshPort: number; envId: string; account: Account; target: number; base?: string }) {
  await ssh2Tunnel(kit, { ...options, forwards: [{ kind: 'tcpip', name: 'web' }, { kind: 'streamlocal', path: '/admin-80#access=private' }, { kind: 'streamlocal', path: `/${AGENT_SERVICE}#access=private` }] });
  const host = (forward: string) => hostOf(options.account, options.envId, forward, options.base);
  return { publicHost: host('web'), privateHost: host('admin-80'), agentHost: host(AGENT_SERVICE) };
}

/** The real OpenSSH client: `ssh -N -R ...` as a child process (killed at cleanup). */
export function opensshTunnel(kit: Pick<Kit, 'defer'>, options: { sshPort: number; envId: string; account: Account; remote: string[] }) {
  const args = ['-N', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-o', 'LogLevel=ERROR', '-i', options.account.keyPath, '-p', String(options.sshPort)];
  for (const r of options.remote) args.push('-R', r);
  args.push(`${options.envId}@127.0.0.1`);
  const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 0)));
  kit.defer('ssh -R', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, exited, stderr: () => stderr };
}

export function opensshExec(options: { sshPort: number; envId: string; account: Account; command: string }): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-i', options.account.keyPath, '-p', String(options.sshPort), `${options.envId}@127.0.0.1`, options.command];
  return new Promise((resolve) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to the proxy on 127.0.0.1 with an explicit Host (no DNS involved). */
export function get(port: number, host: string, path = '/echo', options: { headers?: Record<string, string>; agent?: http.Agent; method?: string; body?: Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false, headers: { host, ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** RSS of a process in bytes, from /proc. */
/**
 * Memory of a process from its own accounting: current RSS and the high-water mark since the last
 * reset (the kernel's VmHWM sees every peak, where sampling can miss one). Bytes.
 */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Sets the process's high-water mark back to its current RSS (`5` to clear_refs, Linux >= 4.0). */
export async function resetPeakMemory(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}
