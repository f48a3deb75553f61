// The tunnel client and channel handling against the real tunnel server process, without Docker:
// public and private forwards, the 503 pages, host-key pinning, reconnect after a restart,
// close() cancelling every forward (404, not "tunnel gone"), and an h2c forward spoken to in HTTP/2.
import { createServer, type Server } from 'node:http';
import http2 from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '@prevu/core/access-token';
import { freePort, httpGet, useKit, waitFor, type Proc } from '@prevu/test-kit';
import { handleChannel } from '../src/forward.js';
import type { Route } from '../src/state.js';
import { TunnelClient, type Forward } from '../src/tunnel-client.js';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';
import { agentKeyRegistration } from '@prevu/core/agent-key';
import { accountIdFromKeyBlob, hostname } from '@prevu/core/names';
import { tunnelExec } from '@prevu/core/tunnel-server-client';

const serverMain = join(dirname(fileURLToPath(import.meta.url)), '../../tunnel-server/dist/main.js');
const kit = useKit();
const log = pino({ level: 'silent' });
const key = ed25519KeyPair();
const envId = 'client-test';
let sshPort: number;
let httpPort: number;
let managementPort: number;
let stateDir: string;
let server: Proc;
let hostKey: string;
let app: Server;
let appPort: number;
let closedPort: number;
let hangup: TcpServer;
let hangupPort: number;
let h2cPort: number;
const clients: TunnelClient[] = [];

async function startServer(): Promise<Proc> {
  return kit.start({
    command: process.execPath,
    args: [serverMain, '--ssh-port', String(sshPort), '--http-port', String(httpPort), '--management-port', String(managementPort), '--base-domain', 'localhost', '--state-dir', stateDir, '--listen', '127.0.0.1'],
    readyLine: /"msg":"ready"/,
  });
}

const routes: Record<string, Route> = { rpc: { state: 'ready' }, hangup: { state: 'ready' }, web: { state: 'ready' }, secret: { state: 'ready' }, wait: { state: 'starting', reason: 'service wait is starting (waiting for its healthcheck to pass)' }, down: { state: 'ready' } };

function client(forwards: Forward[], pin = hostKey, as: { env?: string; privateKey?: string } = {}): TunnelClient {
  const c = new TunnelClient({
    address: { tls: false, host: '127.0.0.1', port: sshPort },
    envId: as.env ?? envId,
    privateKey: as.privateKey ?? key.private,
    hostKey: pin,
    log,
    onChannel: (forward, channel) => handleChannel(channel, { host: '127.0.0.1', port: { down: closedPort, hangup: hangupPort, rpc: h2cPort }[forward.service] ?? appPort }, routes[forward.service]!, log, forward.service),
  });
  c.setForwards(forwards);
  c.start();
  clients.push(c);
  return c;
}

const get = (hostname: string, headers: Record<string, string> = {}) => httpGet(`http://127.0.0.1:${httpPort}/x`, { headers: { host: `${hostname}:${httpPort}`, ...headers } });

beforeAll(async () => {
  [sshPort, httpPort, managementPort, closedPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  stateDir = mkdtempSync(join(tmpdir(), 'prevu-agent-client-'));
  server = await startServer();
  hostKey = /"hostKey":"(SHA256:[^"]+)"/.exec(server.output())![1]!;
  app = createServer((req, res) => res.end(`app ${req.url}`));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appPort = (app.address() as AddressInfo).port;
  // A service going down under a request: reads it, closes without a byte back.
  hangup = createTcpServer((socket) => socket.once('data', () => socket.destroy()));
  await new Promise<void>((resolve) => hangup.listen(0, '127.0.0.1', resolve));
  hangupPort = (hangup.address() as AddressInfo).port;
  // HTTP/2 only (a gRPC server's way): an HTTP/1.1 request gets no answer from it.
  const h2c = http2.createServer();
  h2c.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(`h2 ${headers[':path']} ${headers['authorization'] ? 'with' : 'without'} authorization`);
  });
  await new Promise<void>((resolve) => h2c.listen(0, '127.0.0.1', resolve));
  h2cPort = (h2c.address() as AddressInfo).port;
  kit.defer('h2c service', () => new Promise<void>((resolve) => h2c.close(() => resolve())));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  app.close();
  hangup.close();
});

describe('tunnel client', () => {
  let tunnel: TunnelClient;
  const hostOf = (name: string) => tunnel.hello!.tunnels.find((t) => t.name === name)!.hostname;

  it('forwards public and private names, and answers pages for services that are not ready', async () => {
    tunnel = client([
      { name: 'web', service: 'web', port: 80, private: false, h2c: false },
      { name: 'secret', service: 'secret', port: 80, private: true, h2c: false },
      { name: 'wait', service: 'wait', port: 80, private: false, h2c: false },
      { name: 'down-8080', service: 'down', port: 8080, private: false, h2c: false },
      { name: 'hangup', service: 'hangup', port: 80, private: false, h2c: false },
    ]);
    await waitFor('hello with 5 tunnels', async () => (tunnel.hello?.tunnels.length === 5 ? true : undefined), 10_000);
    expect(tunnel.hello!.tunnels.find((t) => t.name === 'secret')?.private).toBe(true);

    const web = await get(hostOf('web'));
    expect(web).toMatchObject({ status: 200, body: 'app /x' });

    expect((await get(hostOf('secret'))).status).toBe(401);
    const token = await signAccessToken({ privateKey: key.private, envId });
    expect(await get(hostOf('secret'), { authorization: `Bearer ${token}` })).toMatchObject({ status: 200, body: 'app /x' });

    const wait = await get(hostOf('wait'));
    expect(wait.status).toBe(503);
    expect(wait.headers['retry-after']).toBe('5');
    expect(wait.headers['x-prevu-state']).toBe('starting');
    expect(wait.body).toContain('waiting for its healthcheck');

    const down = await get(hostOf('down-8080'));
    expect(down.status).toBe(503);
    expect(down.body).toContain(`not accepting connections on port ${closedPort} yet (ECONNREFUSED)`);

    const hung = await get(hostOf('hangup'));
    expect(hung.status).toBe(503);
    expect(hung.body).toContain('closed the connection without answering');
  });

  it('drops a forward that is no longer wanted', async () => {
    const wait = hostOf('wait');
    tunnel.setForwards([
      { name: 'web', service: 'web', port: 80, private: false, h2c: false },
      { name: 'secret', service: 'secret', port: 80, private: true, h2c: false },
      { name: 'down-8080', service: 'down', port: 8080, private: false, h2c: false },
    ]);
    // The client cancelled it, so the server forgets the name: unknown host, not "tunnel gone".
    const dropped = await waitFor('the dropped name to be unknown', async () => {
      const r = await get(wait);
      return r.headers['x-prevu-error'] ? r : undefined;
    }, 10_000);
    expect(dropped.status).toBe(404);
    expect((await get(hostOf('web'))).status).toBe(200);
  });

  it('comes back on its own after the server restarts, with the same hostnames', async () => {
    const web = hostOf('web');
    await server.stop();
    await waitFor('the client to notice', async () => (tunnel.isConnected ? undefined : true), 10_000);
    server = await startServer();
    await waitFor('web to answer again', async () => ((await get(web)).status === 200 ? true : undefined), 10_000);
  });

  it('close() cancels every forward and waits for the server: the URLs answer 404 once it resolves', async () => {
    const names = tunnel.hello!.tunnels.map((t) => t.hostname);
    expect(names).toHaveLength(3);
    expect((await get(hostOf('web'))).status).toBe(200);
    await tunnel.close();
    expect(tunnel.isConnected).toBe(false);
    // New connections: the server closes pooled ones that were bound to the closed tunnel.
    const fresh = new Agent();
    kit.defer('undici agent', () => fresh.close());
    for (const hostname of names) {
      const reply = await httpGet(`http://127.0.0.1:${httpPort}/x`, { headers: { host: `${hostname}:${httpPort}` }, dispatcher: fresh });
      expect(reply.status, hostname).toBe(404);
      expect(reply.body).toContain('No tunnel for this address');
    }
  });

  it('learns from hello why a forward was refused: another env of the key holds its hostname', async () => {
    const first = client([{ name: 'web-app', service: 'web-app', port: 80, private: false, h2c: false }], hostKey, { env: 'x' });
    await waitFor('the first env hello', async () => (first.hello?.tunnels.length === 1 ? true : undefined));
    const second = client([{ name: 'web', service: 'web', port: 80, private: false, h2c: false }], hostKey, { env: 'app-x' });
    const refused = await waitFor('the refusal in hello', async () => second.hello?.refused?.[0]);
    expect(refused).toMatchObject({ name: 'web', heldByEnv: 'x', hostname: first.hello!.tunnels[0]!.hostname });
    expect(second.hello!.tunnels).toEqual([]);
    // Once the holder lets go (its env went down), the refused forward is asked again and taken.
    await first.close();
    await waitFor('the forward taken on a retry', async () => (second.hello?.tunnels.length === 1 && !second.hello.refused ? true : undefined), 20_000);
  });

  it('stops, without reconnecting, when the account revokes its agent key (prevu down)', async () => {
    const agentKey = ed25519KeyPair();
    const accountId = accountIdFromKeyBlob(Buffer.from(key.public.split(' ')[1]!, 'base64'));
    const exec = (command: string, input?: string) => tunnelExec({ address: `127.0.0.1:${sshPort}`, privateKey: key.private, envId, hostKey, recordedIn: 'test' }, command, input);
    const registration = agentKeyRegistration({ privateKey: agentKey.private, publicKey: agentKey.public.split(' ').slice(0, 2).join(' ') }, accountId, envId);
    await exec('agent-key', JSON.stringify(registration));
    const c = client([{ name: 'keyed', service: 'web', port: 80, private: false, h2c: false }], hostKey, { privateKey: agentKey.private });
    const host = hostname('keyed', envId, accountId, 'localhost');
    await waitFor('the agent key\'s forward to serve', async () => ((await get(host)).status === 200 ? true : undefined), 10_000);
    await exec('agent-key-revoke');
    await waitFor('the client to stand down', async () => (c.replaced ? true : undefined), 5000);
    expect(c.lastError).toMatch(/^prevu-agent-key-revoked: /);
    await sleep(1000); // past the first backoff steps: it must not have come back
    expect(c.isConnected).toBe(false);
  });

  it('refuses a server whose host key is not the pinned one', async () => {
    const wrong = client([{ name: 'other', service: 'web', port: 80, private: false, h2c: false }], `SHA256:${'A'.repeat(43)}`);
    await waitFor('the handshake to fail', async () => (wrong.lastError ? true : undefined), 10_000);
    expect(wrong.isConnected).toBe(false);
    expect(wrong.lastError).toMatch(/verification failed/i);
    await wrong.close();
  });
});

describe('an h2c forward (prevu.h2c, compose app_protocol: grpc)', () => {
  it('reaches an HTTP/2-only service as HTTP/2, trailers included, and keeps it private', async () => {
    const rpc = client([{ name: 'rpc-50051', service: 'rpc', port: 50051, private: true, h2c: true }], hostKey, { env: 'client-h2c' });
    await waitFor('hello with the rpc tunnel', async () => (rpc.hello?.tunnels.length === 1 ? true : undefined), 10_000);
    const host = rpc.hello!.tunnels[0]!.hostname;
    const session = http2.connect(`http://127.0.0.1:${httpPort}`);
    session.on('error', () => undefined);
    kit.defer('h2 client', () => void session.destroy());
    const ask = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string; trailers: Record<string, unknown> }>((resolve, reject) => {
        const stream = session.request({ ':path': '/echo.Echo/Say', ':authority': host, ...headers });
        let status = 0;
        let body = '';
        let trailers = {};
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('trailers', (t) => (trailers = t));
        stream.on('data', (d: Buffer) => (body += d.toString()));
        stream.on('end', () => resolve({ status, body, trailers }));
        stream.on('error', reject);
      });
    expect((await ask({})).status).toBe(401);
    const token = await signAccessToken({ privateKey: key.private, envId: 'client-h2c' });
    const answer = await ask({ authorization: `Bearer ${token}` });
    expect(answer).toMatchObject({ status: 200, body: 'h2 /echo.Echo/Say without authorization', trailers: { 'grpc-status': '0' } });
    await rpc.close();
  });
});
