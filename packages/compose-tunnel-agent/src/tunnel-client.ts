// One SSH connection to the tunnel server carrying one forward per exposed service port. The
// desired forwards are a set the agent replaces whenever docker changes; the client applies the
// difference while connected and re-applies all of it after a reconnect (exponential backoff,
// capped at 5 s, with jitter), so it is idempotent.
import { EventEmitter } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import Client from 'ssh2/lib/client.js';
import type { Logger } from 'pino';
import { sshFingerprint } from '@prevu/core/ssh-fingerprint';
import { sshExec } from '@prevu/core/ssh-exec';
import { AGENT_KEY_REVOKED, type HelloReply } from '@prevu/core/tunnel-protocol';
import { openTlsTunnel, type TunnelAddress } from '@prevu/core/tunnel-address';
import { autoCork } from '@prevu/core/ssh-cork';
import { pooledPaddings } from '@prevu/core/ssh2-padding';

export interface Forward {
  /** `<service>-<port>` or `<service>`: the label the hostname starts with. */
  name: string;
  service: string;
  port: number;
  private: boolean;
  /** The service speaks HTTP/2 in clear (gRPC): the server then talks HTTP/2 to it. */
  h2c: boolean;
}

export interface TunnelClientOptions {
  /** The SSH port, or (tls) the HTTPS port carrying SSH over TLS. */
  address: TunnelAddress;
  /** tls: the name the certificate must cover, when not the address's host. */
  tlsName?: string;
  /** tls: a PEM CA trusted besides the system ones. */
  ca?: string;
  envId: string;
  privateKey: string;
  /** OpenSSH `SHA256:...` fingerprint the server's host key must have. */
  hostKey?: string;
  log: Logger;
  /** An incoming connection for a forward. */
  onChannel(forward: Forward, channel: Duplex): void;
}

/** How the tunnel server's disconnect message starts when a newer connection took over. */
export const TAKEOVER = 'prevu-takeover:';

/** How long close() waits for the server to confirm the cancels, then for the connection to end. */
export const CANCEL_WAIT_MS = 2000;
const CLOSE_WAIT_MS = 500;

/** A refused forward (its hostname held by another env) is asked again this often: the holder may let go. */
export const REFUSED_RETRY_MS = 5000;

export const BACKOFF_BASE_MS = 200;
export const BACKOFF_CAP_MS = 5000;

/** Exponential backoff capped at 5 s, with half of it random so many agents do not stampede. */
export function backoffDelay(attempt: number, random = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits for `promise`, or `ms`, whichever comes first. */
function within(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/**
 * The key ssh2 and the server use for a forward: bind address (public), or streamlocal path
 * (private); flags ride in the fragment (core names.ts, parseForwardName).
 */
function forwardKey(f: Forward): string {
  const flags = [...(f.private ? ['access=private'] : []), ...(f.h2c ? ['proto=h2c'] : [])].join('&');
  const name = f.private ? `/${f.name}` : f.name;
  return flags ? `${name}#${flags}` : name;
}

export class TunnelClient extends EventEmitter {
  private client: Client | undefined;
  private connected = false;
  private closed = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private desired = new Map<string, Forward>();
  /** Forwards the server accepted (or that are in flight) on the current connection. */
  private applied = new Map<string, Forward>();
  private helloTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Forwards refused since they last succeeded: logged once, not at every retry. */
  private readonly refusedKeys = new Set<string>();
  hello: HelloReply | undefined;
  lastError: string | undefined;
  /** Set when the server handed this env's forwards to a newer connection of the same key. */
  replaced = false;

  constructor(private readonly options: TunnelClientOptions) {
    super();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.connect();
  }

  /** Replaces the desired forwards; applies the difference now when connected. */
  setForwards(forwards: Forward[]): void {
    this.desired = new Map(forwards.map((f) => [forwardKey(f), f]));
    if (this.connected) this.apply();
  }

  /**
   * Cancels every forward and waits for the server's replies (at most CANCEL_WAIT_MS), then
   * disconnects. The server releases a cancelled name at once (404, "unknown host"), while a
   * connection that just drops leaves its names as "tunnel gone" (502): a stopped environment
   * must read as gone on purpose, a crashed one as broken.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.helloTimer);
    clearTimeout(this.retryTimer);
    const client = this.client;
    if (!client) return;
    if (this.connected) {
      const cancels = [...this.applied].map(
        ([key, forward]) =>
          new Promise<void>((resolve) => {
            const done = (error?: Error | null) => {
              if (error) this.options.log.warn({ forward: key, err: error.message }, 'cancelling a forward failed');
              resolve();
            };
            if (forward.private) client.openssh_unforwardInStreamLocal(key, done);
            else client.unforwardIn(key, forward.port, done);
          }),
      );
      this.applied.clear();
      await within(CANCEL_WAIT_MS, Promise.all(cancels));
    }
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.end();
    await within(CLOSE_WAIT_MS, closed);
  }

  private connect(): void {
    const { address, log } = this.options;
    if (!address.tls) {
      const sock = tcpConnect({ host: address.host, port: address.port, noDelay: true });
      autoCork(sock);
      return this.connectSsh(sock);
    }
    // A failed handshake (the network, or a certificate it does not trust) is retried like a
    // failed SSH connection: the backoff, and the reason in lastError for /health.
    openTlsTunnel(address, { ...(this.options.tlsName ? { servername: this.options.tlsName } : {}), ...(this.options.ca ? { ca: this.options.ca } : {}) }).then(
      (sock) => {
        if (this.closed) return void sock.destroy();
        this.connectSsh(sock);
      },
      (error: Error) => {
        this.lastError = `tls: ${error.message}`;
        log.warn({ err: error.message }, 'tls connection to the tunnel server failed');
        this.scheduleReconnect();
      },
    );
  }

  private connectSsh(sock?: Duplex): void {
    const { log } = this.options;
    const client = new Client();
    this.client = client;
    const byKey = (key: string) => this.applied.get(key);

    client.on('ready', () => {
      client.setNoDelay(true);
      this.connected = true;
      this.attempt = 0;
      this.lastError = undefined;
      this.applied.clear();
      // pooledPaddings: 0 would mean ssh2 was loaded before @prevu/core/ssh2-padding (the e2e checks it)
      log.info({ server: `${this.options.address.host}:${this.options.address.port}`, tls: this.options.address.tls, pooledPaddings: pooledPaddings() }, 'connected to the tunnel server');
      this.emit('connected');
      this.apply();
    });
    client.on('tcp connection', (info, accept, reject) => {
      const forward = byKey(info.destIP);
      if (!forward) return reject();
      const channel = accept();
      this.options.onChannel(forward, channel);
    });
    client.on('unix connection', (info, accept, reject) => {
      const forward = byKey(info.socketPath);
      if (!forward) return reject();
      const channel = accept();
      this.options.onChannel(forward, channel);
    });
    client.on('error', (error: Error & { level?: string }) => {
      this.lastError = error.message;
      if (error.message.startsWith(TAKEOVER)) {
        // Another agent (or `ssh -R`) with the same key and env took over: reconnecting would
        // take the names back and the two would flap. Stay down until restarted.
        this.replaced = true;
        log.error({ reason: error.message }, 'replaced by a newer connection of the same key and env; not reconnecting');
        return;
      }
      if (error.message.startsWith(AGENT_KEY_REVOKED)) {
        // `prevu down`, or a new agent key: this key would log in as nobody's env now.
        this.replaced = true;
        log.error({ reason: error.message }, 'the account revoked this agent key; not reconnecting');
        return;
      }
      log.warn({ err: error.message, level: error.level }, 'tunnel connection error');
    });
    client.on('close', () => {
      const was = this.connected;
      this.connected = false;
      this.applied.clear();
      if (this.client === client) this.client = undefined;
      if (was) {
        log.warn('disconnected from the tunnel server');
        this.emit('disconnected');
      }
      this.scheduleReconnect();
    });

    const expected = this.options.hostKey;
    client.connect({
      host: this.options.address.host,
      port: this.options.address.port,
      ...(sock ? { sock } : {}),
      username: this.options.envId,
      privateKey: this.options.privateKey,
      readyTimeout: 10_000,
      // the prevu server does not claim to be OpenSSH; ssh2 would refuse streamlocal forwards
      strictVendor: false,
      // Dead peers are noticed in ~15 s; a live idle tunnel is never dropped.
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      algorithms: {
        kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256'],
        // AES-GCM only: node:crypto does it natively, while chacha20-poly1305 would need ssh2's
        // poly1305 WebAssembly, left out of the bundle to save 4 MB of RSS (scripts/bundle.mjs).
        cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'],
        serverHostKey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256'],
      },
      ...(expected
        ? {
            hostVerifier: (key: Buffer) => {
              const ok = sshFingerprint(key) === expected;
              if (!ok) log.error({ got: sshFingerprint(key), expected }, 'tunnel server host key does not match PREVU_TUNNEL_HOST_KEY');
              return ok;
            },
          }
        : {}),
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.replaced || this.reconnectTimer) return;
    const delay = backoffDelay(this.attempt++);
    this.options.log.info({ delayMs: delay, attempt: this.attempt }, 'reconnecting to the tunnel server');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private apply(): void {
    const client = this.client;
    // Once closing, a late docker change must not re-request what close() cancels.
    if (!client || this.closed) return;
    const { log } = this.options;
    let changed = false;
    for (const [key, forward] of this.desired) {
      if (this.applied.has(key)) continue;
      this.applied.set(key, forward);
      changed = true;
      const done = (error?: Error | null) => {
        if (!error) return void this.refusedKeys.delete(key);
        // Why is in the next hello (`refused`); the holder of the name may let go, so ask again later.
        if (!this.refusedKeys.has(key)) log.error({ forward: key, err: error.message }, 'the tunnel server refused a forward');
        this.refusedKeys.add(key);
        if (this.applied.get(key) === forward) this.applied.delete(key);
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          if (this.connected) this.apply();
        }, REFUSED_RETRY_MS);
      };
      if (forward.private) client.openssh_forwardInStreamLocal(key, done);
      else client.forwardIn(key, forward.port, done);
    }
    for (const [key, forward] of this.applied) {
      if (this.desired.has(key)) continue;
      this.applied.delete(key);
      changed = true;
      const done = (error?: Error | null) => error && log.warn({ forward: key, err: error.message }, 'cancelling a forward failed');
      if (forward.private) client.openssh_unforwardInStreamLocal(key, done);
      else client.unforwardIn(key, forward.port, done);
    }
    if (changed || !this.hello) this.scheduleHello();
  }

  /** Asks the server for the URL table once the forward requests settle (again in 1 s if it fails). */
  private scheduleHello(delayMs = 50): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => {
      void this.exec('hello')
        .then((out) => {
          this.hello = JSON.parse(out) as HelloReply;
          this.emit('hello', this.hello);
        })
        .catch((error: Error) => {
          this.options.log.warn({ err: error.message }, 'hello failed');
          if (this.connected) this.scheduleHello(1000);
        });
    }, delayMs);
  }

  async exec(command: string): Promise<string> {
    const client = this.client;
    if (!client || !this.connected) throw new Error('not connected');
    const result = await sshExec(client, command);
    if (result.code !== 0) throw new Error(`exec ${command} exited ${result.code}: ${result.stderr.trim()}`);
    return result.stdout;
  }

}
