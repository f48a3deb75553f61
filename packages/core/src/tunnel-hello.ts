// Asks the tunnel server who we are: one SSH connection with the account key, `exec hello`, no
// forwards (so it never disturbs the agent's tunnels). The answer gives the accountId the server
// derived from the key and the base URL that every service URL is built on.
import ssh2 from 'ssh2';
import { z } from 'zod';
import { errors, type PrevuError } from './errors.js';
import { matchesPin } from './ssh-fingerprint.js';
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
  /** `host:port` of the server's SSH port. */
  address: string;
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

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * Runs one command on the tunnel server as the account (user name = envId), with `input` on its
 * stdin; resolves to its stdout and the server's host key (so a first contact can record it).
 */
export function tunnelExec(options: HelloOptions, command: string, input?: string): Promise<{ stdout: string; hostKey: string }> {
  const { host, port } = splitAddress(options.address);
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
    client.on('ready', () => {
      client.exec(command, (err, stream) => {
        if (err) return fail(errors.tunnelServerUnreachable(options.address, `exec ${command}: ${err.message}`));
        let out = '';
        let errOut = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (out += chunk));
        stream.stderr.on('data', (chunk: Buffer) => (errOut += chunk.toString('utf8')));
        stream.on('close', (code: number | null | undefined) => {
          if (settled) return;
          // no exit status at all (a dropped connection) is no success either
          if (code !== 0) return fail(errors.tunnelCommandFailed(options.address, command, errOut.trim() || (code == null ? 'closed without an exit status' : `exit ${code}`)));
          settled = true;
          client.end();
          resolve({ stdout: out, hostKey: seenKey });
        });
        stream.end(input);
      });
    });
    client.connect({
      host,
      port,
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

/** Runs `hello`; also returns the server's host key so a first contact can record it. */
export async function tunnelHello(options: HelloOptions): Promise<Hello & { hostKey: string }> {
  const { stdout, hostKey } = await tunnelExec(options, 'hello');
  let parsed: ReturnType<typeof helloSchema.safeParse>;
  try {
    parsed = helloSchema.safeParse(JSON.parse(stdout));
  } catch {
    throw errors.tunnelServerUnreachable(options.address, `hello did not answer JSON: ${stdout.slice(0, 80)}`);
  }
  if (!parsed.success) throw errors.tunnelServerUnreachable(options.address, `hello answer: ${parsed.error.issues[0]?.message}`);
  return { ...parsed.data, hostKey };
}
