// The CLI's client of the tunnel server: one SSH connection with the account key (user name =
// envId), no forwards (so it never disturbs the agent's tunnels), on which `hello`, `share-create`
// and `agent-key` run one after the other. `hello` gives the accountId the server derived from
// the key and the base URL every service URL is built on. A tls:// address runs the same SSH
// inside a verified TLS connection to the server's HTTPS port (tunnel-address.ts).
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { errors, type PrevuError } from './errors.js';
import { localhostAwareLookup } from './localhost-lookup.js';
import { sshExec } from './ssh-exec.js';
import { matchesPin } from './ssh-fingerprint.js';
import { openTlsTunnel, parseTunnelAddress, TlsTunnelError, type TunnelAddress } from './tunnel-address.js';
import type { HelloReply } from './tunnel-protocol.js';

/** The server's reply, checked where it crosses the wire; typed by the shared protocol module. */
export const helloSchema: z.ZodType<HelloReply> = z.object({
  accountId: z.string(),
  envId: z.string(),
  baseUrl: z.string().url(),
  tunnels: z
    .array(z.object({ name: z.string(), service: z.string(), port: z.number().optional(), hostname: z.string(), url: z.string(), private: z.boolean() }))
    .default([]),
  refused: z.array(z.object({ name: z.string(), hostname: z.string(), heldByEnv: z.string().optional(), reason: z.string() })).optional(),
});
export type Hello = HelloReply;

export interface HelloOptions {
  /** `host:port` of the server's SSH port, or `tls://host:port` of its HTTPS port (tunnel-address.ts). */
  address: string;
  /** A PEM CA trusted besides the system ones, for tls:// (the profile's --ca-file). */
  ca?: string;
  privateKey: string;
  envId: string;
  /** The server's host key, pinned or recorded (`ssh-ed25519 AAAA...` or `SHA256:...`); when set it must match. */
  hostKey?: string;
  /** hostKey was pinned by the user, not recorded on first contact (another error line). */
  hostKeyPinned?: boolean;
  /** The file the recorded key lives in, named in the host-key error. */
  recordedIn: string;
  timeoutMs?: number;
}

/** `ssh-ed25519 AAAA...` of a raw host key blob. */
function hostKeyLine(blob: Buffer): string {
  const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
  return `${type} ${blob.toString('base64')}`;
}

/** For tls://: the verified TLS socket SSH runs on (names resolved as everywhere in prevu: localhost-lookup.ts). */
async function tlsSocket(options: HelloOptions, address: TunnelAddress): Promise<TLSSocket> {
  try {
    return await openTlsTunnel(address, { ...(options.ca ? { ca: options.ca } : {}), lookup: localhostAwareLookup, timeoutMs: options.timeoutMs ?? 10_000 });
  } catch (error) {
    if (!(error instanceof TlsTunnelError)) throw error;
    if (error.kind === 'certificate') throw errors.tunnelTlsUntrusted(options.address, error.message);
    if (error.kind === 'no-ssh') throw errors.tunnelNoSshOverTls(options.address);
    throw errors.tunnelServerUnreachable(options.address, error.message);
  }
}

export class TunnelServerClient {
  private constructor(
    private readonly ssh: ssh2.Client,
    private readonly options: HelloOptions,
    /** The key the server showed (`ssh-ed25519 AAAA...`), so a first contact can record it. */
    readonly hostKey: string,
  ) {}

  /** Connects and authenticates; a host key that does not match the pin or record is one line. */
  static async connect(options: HelloOptions): Promise<TunnelServerClient> {
    const address = parseTunnelAddress(options.address);
    if (!address) throw errors.tunnelAddressInvalid('the tunnel server address', options.address);
    const sock = address.tls ? await tlsSocket(options, address) : undefined;
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let seenKey = '';
      let settled = false;
      const fail = (error: PrevuError) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(error);
      };
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (error.level === 'client-authentication') {
          fail(errors.tunnelAuthRefused(options.address));
        } else if (/host denied|verification failed|host key/i.test(error.message) && seenKey) {
          fail(options.hostKeyPinned ? errors.hostKeyNotPinned(`the tunnel server ${options.address}`) : errors.tunnelHostKeyMismatch(options.address, options.recordedIn));
        } else {
          fail(errors.tunnelServerUnreachable(options.address, error.code ?? error.message));
        }
      });
      client.once('ready', () => {
        settled = true;
        resolve(new TunnelServerClient(client, options, seenKey));
      });
      client.connect({
        host: address.host,
        port: address.port,
        ...(sock ? { sock } : {}),
        username: options.envId,
        privateKey: options.privateKey,
        readyTimeout: options.timeoutMs ?? 10_000,
        keepaliveInterval: 5_000,
        hostVerifier: (key: Buffer) => {
          seenKey = hostKeyLine(key);
          return !options.hostKey || matchesPin([options.hostKey], key);
        },
      });
    });
  }

  /** Runs one command, `input` on its stdin; its stdout, or one line naming what failed. */
  async exec(command: string, input?: string): Promise<string> {
    const result = await sshExec(this.ssh, command, input).catch((error: Error) => {
      throw errors.tunnelServerUnreachable(this.options.address, `exec ${command}: ${error.message}`);
    });
    // no exit status at all (a dropped connection) is no success either
    if (result.code !== 0) throw errors.tunnelCommandFailed(this.options.address, command, result.stderr.trim() || (result.code === null ? 'closed without an exit status' : `exit ${result.code}`));
    return result.stdout;
  }

  /** Runs one command whose stdout is one JSON value, checked with `schema`. */
  async execJson<T>(command: string, schema: z.ZodType<T>, input?: string): Promise<T> {
    const stdout = await this.exec(command, input);
    let parsed: z.ZodSafeParseResult<T>;
    try {
      parsed = schema.safeParse(JSON.parse(stdout));
    } catch {
      throw errors.tunnelServerUnreachable(this.options.address, `${command} did not answer JSON: ${stdout.slice(0, 80)}`);
    }
    if (!parsed.success) throw errors.tunnelServerUnreachable(this.options.address, `${command} answer: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  async hello(): Promise<Hello> {
    return this.execJson('hello', helloSchema);
  }

  /**
   * A direct-tcpip channel to a forward of the env (`prevu connect`): `destination` is its forward
   * name; the server opens it only for a tunnel this key holds (packages/tunnel-server/src/ssh/connect.ts).
   */
  openTcp(destination: string, port: number, from: { address: string; port: number }): Promise<Duplex> {
    return new Promise((resolve, reject) => this.ssh.forwardOut(from.address, from.port, destination, port, (error, channel) => (error ? reject(error) : resolve(channel))));
  }

  /** `listener` runs once when the connection ends, whoever ended it. */
  onClose(listener: () => void): void {
    this.ssh.once('close', listener);
  }

  close(): void {
    this.ssh.end();
  }
}

/** One command on a connection of its own (tests, and `down`'s revoke); stdout and the host key. */
export async function tunnelExec(options: HelloOptions, command: string, input?: string): Promise<{ stdout: string; hostKey: string }> {
  const client = await TunnelServerClient.connect(options);
  try {
    return { stdout: await client.exec(command, input), hostKey: client.hostKey };
  } finally {
    client.close();
  }
}
