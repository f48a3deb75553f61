// A bounded fuzz run against the real server process: generated and mutated inputs at the HTTP
// front (heads, chunked bodies, upgrades, prevu's own paths), the SSH front before authentication
// (version lines, key exchange packets) and after it (global requests, channel opens, channel
// requests, any other message). It passes when the server never exits, still serves a normal
// request and a normal SSH client afterwards, and its peak RSS (VmHWM) stays under a bound.
// The seed is printed; PREVU_FUZZ_SEED=<seed> replays the same inputs.
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import ssh2 from 'ssh2';
// @ts-expect-error ssh2 ships no types for its protocol internals
import protocolUtils from 'ssh2/lib/protocol/utils.js';
import { describe, expect, it } from 'vitest';
import { signAccessToken } from '@prevu/core/access-token';
import { startTunnelServer, useKit } from '@prevu/test-kit';
import { envOfEveryKind, get, makeAccount, ssh2Tunnel, startBackend, type Account } from './harness.js';
import { httpInput, Rng, sshMessage, sshPreauthInput } from './fuzz-inputs.js';

const kit = useKit();

const SEED = Number(process.env.PREVU_FUZZ_SEED ?? randomInt(2 ** 31));
const COUNTS = { http: 50_000, sshPreauth: 20_000, sshMessages: 40_000, https: 5_000, redirects: 5_000 };
/** Limits raised so the fuzz reaches the parsers rather than the per-address caps. */
const FUZZ_ARGS = ['--head-timeout-seconds', '2', '--max-http-connections-per-address', '5000', '--max-unauthenticated', '5000', '--max-unauthenticated-per-address', '5000', '--max-ssh-connections-per-address', '5000', '--max-sessions-per-connection', '100'];
/** The server idles at ~70 MB; a leak of per-input state over 110,000 inputs would pass this. */
const MAX_PEAK_RSS_MB = 300;
const CONCURRENCY = 48;
/** A connection the server has not closed this long after the input ended counts as hung (reported). */
const HANG_MS = 5000;
const SSH_WORKERS = 4;
/** Per SSH connection: this many rounds of messages, the last one hostile, each ended by a `hello` barrier. */
const ROUNDS = 10;
const MESSAGES_PER_ROUND = 50;

/** Runs `task(i)` for i < count, `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/**
 * Sends the bytes in up to three writes, half-closes, and waits for the server to close (or
 * HANG_MS). Plain TCP, or TLS when `servername` is given (the dev CA is not checked: not the point).
 */
function sendAndClose(port: number, bytes: Buffer, pieces: number, servername?: string): Promise<'closed' | 'hung'> {
  return new Promise((resolve) => {
    const socket = servername ? tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('hung');
    }, HANG_MS);
    socket.on('error', () => undefined);
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.once(servername ? 'secureConnect' : 'connect', () => {
      const step = Math.ceil(bytes.length / pieces) || 1;
      for (let at = 0; at < bytes.length; at += step) socket.write(bytes.subarray(at, at + step));
      socket.end();
    });
  });
}

/** Writes a raw payload as one SSH packet on an authenticated ssh2 client (encrypted like any other). */
function sendRaw(client: ssh2.Client, payload: Buffer): void {
  const proto = (client as unknown as { _protocol: { _packetRW: { write: { allocStart: number; alloc(n: number): Buffer; finalize(p: Buffer): Buffer } } } })._protocol;
  const write = proto._packetRW.write;
  const packet = write.alloc(payload.length);
  payload.copy(packet, write.allocStart);
  (protocolUtils as { sendPacket(proto: unknown, packet: Buffer): void }).sendPacket(proto, write.finalize(packet));
}

const USERNAMES = ['fuzz', 'Ünï-cödé', 'a'.repeat(3000), 'x'.repeat(70) + '-branch', 'env.with.dots', '--', ''];

/** An authenticated ssh2 client, or the error message. */
function connect(port: number, account: Account, username: string): Promise<ssh2.Client | string> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    client.on('ready', () => resolve(client));
    client.on('error', (error) => resolve(error.message));
    client.connect({ host: '127.0.0.1', port, username, privateKey: account.privateKey, strictVendor: false, readyTimeout: 10_000 });
  });
}

/** exec on the client: the channel when the server opened it, undefined when it did not (or too late). */
function execChannel(client: ssh2.Client, command: string): Promise<ssh2.ClientChannel | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 30_000);
    try {
      client.exec(command, (error, stream) => {
        clearTimeout(timer);
        resolve(error ? undefined : stream);
      });
    } catch {
      clearTimeout(timer);
      resolve(undefined);
    }
  });
}

interface SshStats {
  sent: number;
  connections: number;
  authRefused: number;
  /** Connections the server ended during a well-formed round (a hostile round is expected to end it). */
  cutWellFormed: number;
}

/** Sends `share` messages over as many authenticated connections as it takes (the server may cut one). */
async function sshWorker(port: number, rng: Rng, share: number, stats: SshStats): Promise<void> {
  const account = makeAccount();
  let channelId = 1_000_000;
  while (share > 0) {
    const username = rng.pick(USERNAMES);
    const client = await connect(port, account, username);
    if (typeof client === 'string') {
      stats.authRefused++;
      continue;
    }
    stats.connections++;
    // A session held open (share-create waits for its stdin) gives channel requests a real target.
    const session = await execChannel(client, 'share-create');
    const target = (session as unknown as { outgoing?: { id: number } } | undefined)?.outgoing?.id ?? 0;
    for (let round = 0, alive = true; alive && round < ROUNDS && share > 0; round++) {
      const hostile = round === ROUNDS - 1;
      for (let i = 0; i < MESSAGES_PER_ROUND && share > 0; i++, share--, stats.sent++) sendRaw(client, sshMessage(rng, target, () => channelId++, hostile));
      // The server answers in order: once `hello` comes back, it has read everything before it.
      const hello = await execChannel(client, 'hello');
      alive = hello !== undefined;
      hello?.resume();
      if (!alive && !hostile) stats.cutWellFormed++;
    }
    client.end();
  }
}

describe('fuzz', () => {
  // The seed is in the title too, so a failure's report names it.
  it(`survives ${COUNTS.http + COUNTS.sshPreauth + COUNTS.sshMessages} generated and mutated inputs at HTTP and SSH (seed ${SEED})`, { timeout: 280_000 }, async () => {
    console.log(`fuzz seed ${SEED} (PREVU_FUZZ_SEED=${SEED} replays these inputs)`);
    const started = process.hrtime.bigint();
    const server = await startTunnelServer(kit, { args: FUZZ_ARGS });
    const backend = await startBackend(kit);
    backend.releaseSse(); // every event stream ends at once: a held one would only read as "hung"
    const alice = makeAccount();
    const env = await envOfEveryKind(kit, { sshPort: server.ports.ssh, envId: 'fuzz', account: alice, target: backend.port });
    const web = env.publicHost;
    const targets = { hosts: [web, env.privateHost, env.agentHost, `nothing-${alice.accountId}.localhost`], token: await signAccessToken({ privateKey: alice.privateKey }) };

    const hung = { http: 0, ssh: 0 };
    const httpRng = new Rng(SEED);
    const preauthRng = new Rng(SEED ^ 0x5eed);
    const stats: SshStats = { sent: 0, connections: 0, authRefused: 0, cutWellFormed: 0 };
    await Promise.all([
      pool(COUNTS.http, CONCURRENCY, async () => {
        if ((await sendAndClose(server.ports.http, httpInput(httpRng, targets), 1 + httpRng.int(3))) === 'hung') hung.http++;
      }),
      pool(COUNTS.sshPreauth, CONCURRENCY / 2, async () => {
        if ((await sendAndClose(server.ports.ssh, sshPreauthInput(preauthRng), 1 + preauthRng.int(3))) === 'hung') hung.ssh++;
      }),
      ...Array.from({ length: SSH_WORKERS }, (_, w) => sshWorker(server.ports.ssh, new Rng(SEED + w + 1), COUNTS.sshMessages / SSH_WORKERS, stats)),
    ]);

    // Still the same process, still serving HTTP and SSH.
    expect(server.proc.child.exitCode).toBeNull();
    expect((await get(server.ports.http, web)).status).toBe(200);
    const after = await ssh2Tunnel(kit, { sshPort: server.ports.ssh, envId: 'after', account: makeAccount(), target: backend.port, forwards: [{ kind: 'tcpip', name: 'web' }] });
    expect(JSON.parse(await after.exec('hello')).tunnels).toHaveLength(1);
    const peakMb = peakRssMb(server.proc.pid);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`fuzz seed ${SEED}: ${COUNTS.http} HTTP inputs (${hung.http} hung), ${COUNTS.sshPreauth} SSH pre-auth inputs (${hung.ssh} hung), ${stats.sent} SSH messages on ${stats.connections} connections (${stats.cutWellFormed} cut by the server in a well-formed round, ${stats.authRefused} logins refused); server peak RSS ${peakMb.toFixed(0)} MB; ${seconds.toFixed(0)} s`);
    expect(stats.sent).toBe(COUNTS.sshMessages);
    // A well-formed message never costs the connection (a second exec on a session once did).
    expect(stats.cutWellFormed).toBe(0);
    expect(peakMb).toBeLessThan(MAX_PEAK_RSS_MB);
  });

  it(`survives ${COUNTS.https + COUNTS.redirects} inputs at HTTPS and at the plain port that redirects to it (seed ${SEED})`, { timeout: 120_000 }, async () => {
    const server = await startTunnelServer(kit, { baseDomain: 'example.test', devTls: true, args: FUZZ_ARGS });
    const backend = await startBackend(kit);
    backend.releaseSse();
    const alice = makeAccount();
    const env = await envOfEveryKind(kit, { sshPort: server.ports.ssh, envId: 'fuzz', account: alice, target: backend.port, base: 'example.test' });
    const targets = { hosts: [env.publicHost, env.privateHost, env.agentHost, 'example.test', 'evil.example'], token: await signAccessToken({ privateKey: alice.privateKey }) };
    const rng = new Rng(SEED ^ 0x7157);
    const hung = { https: 0, redirects: 0 };
    await Promise.all([
      pool(COUNTS.https, CONCURRENCY / 2, async () => {
        if ((await sendAndClose(server.ports.https!, httpInput(rng, targets), 1 + rng.int(3), rng.pick(targets.hosts))) === 'hung') hung.https++;
      }),
      pool(COUNTS.redirects, CONCURRENCY / 2, async () => {
        if ((await sendAndClose(server.ports.http, httpInput(rng, targets), 1 + rng.int(3))) === 'hung') hung.redirects++;
      }),
    ]);
    expect(server.proc.child.exitCode).toBeNull();
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: server.ports.https, servername: env.publicHost, path: '/echo', headers: { host: env.publicHost }, ca: readFileSync(server.caPath!) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
    const peakMb = peakRssMb(server.proc.pid);
    console.log(`fuzz seed ${SEED}: ${COUNTS.https} HTTPS inputs (${hung.https} hung), ${COUNTS.redirects} plain-port inputs (${hung.redirects} hung); server peak RSS ${peakMb.toFixed(0)} MB`);
    expect(peakMb).toBeLessThan(MAX_PEAK_RSS_MB);
  });
});

/** The process's peak resident set (VmHWM), read once: no sampling can miss a peak. */
function peakRssMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
