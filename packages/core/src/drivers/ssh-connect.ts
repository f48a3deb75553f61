// One SSH connection to a host, made the way every prevu connection is: modern algorithms only,
// TCP_NODELAY (Nagle cost a tunnel 40x in req/s), keep-alives so a 20-minute build is never cut,
// the host key checked against its pins when it has some, else against the profile's known_hosts
// (recorded on first use), and every failure turned into one line that names its cause.
import ssh2 from 'ssh2';
import { errors, isPrevuError } from '../errors.js';
import { matchesPin } from '../ssh-fingerprint.js';
import { checkHostKey, recordedKeyTypes, recordHostKey } from './known-hosts.js';

export interface SshConnectOptions {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  /** How the key is named in messages (its path, or "the profile key"). */
  keyLabel: string;
  knownHostsPath: string;
  /** Pinned host keys (`SHA256:...` or key lines): only these pass, known_hosts is not consulted. */
  hostKeyPins?: string[];
  keepAliveSeconds: number;
  readyTimeoutSeconds: number;
}

export const sshAlgorithms = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  serverHostKey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256'] as ssh2.ServerHostKeyAlgorithm[],
  cipher: ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none'],
} satisfies ssh2.Algorithms;

/**
 * Host key algorithms with those of the recorded key types first: like OpenSSH, so a host that
 * has several keys presents the one already known (an RSA-only entry is not a "changed key").
 */
function hostKeyOrder(recorded: string[]): ssh2.ServerHostKeyAlgorithm[] {
  const all = sshAlgorithms.serverHostKey;
  const known = all.filter((a) => recorded.includes(a.startsWith('rsa-sha2-') ? 'ssh-rsa' : a));
  return [...known, ...all.filter((a) => !known.includes(a))];
}

export const sshTarget = (o: Pick<SshConnectOptions, 'host' | 'port' | 'user'>) => `${o.user}@${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;

/** Resolves once the connection is authenticated; the caller owns `end()`. */
export function connectSsh(options: SshConnectOptions, signal?: AbortSignal): Promise<ssh2.Client> {
  const target = sshTarget(options);
  const pins = options.hostKeyPins?.length ? options.hostKeyPins : undefined;
  const client = new ssh2.Client();
  let hostKey: 'known' | 'new' | 'mismatch' | undefined;
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => {
      signal?.removeEventListener('abort', onAbort);
      client.end();
      reject(error);
    };
    const onAbort = () => fail(signal!.reason);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    client.once('ready', () => {
      signal?.removeEventListener('abort', onAbort);
      // Errors after this point end the connection ('close'); the owner reconnects on next use.
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      if (hostKey === 'mismatch') return fail(options.hostKeyPins ? errors.hostKeyNotPinned(target) : errors.hostKeyMismatch(target));
      if (error.level === 'client-authentication') return fail(errors.sshAuthFailed(target, options.keyLabel));
      const detail =
        error.level === 'client-timeout'
          ? `no SSH handshake within ${options.readyTimeoutSeconds} s`
          : error.code === 'ECONNREFUSED'
            ? 'connection refused'
            : error.level === 'handshake'
              ? `${error.message}; prevu accepts only curve25519 key exchange and AES-GCM or chacha20-poly1305`
              : error.message;
      fail(isPrevuError(error) ? error : errors.sshUnreachable(target, detail));
    });
    try {
      client.connect({
        host: options.host,
        port: options.port,
        username: options.user,
        privateKey: options.privateKey,
        algorithms: { ...sshAlgorithms, serverHostKey: hostKeyOrder(pins ? pins.map((p) => p.split(' ')[0]!) : recordedKeyTypes(options.knownHostsPath, options.host, options.port)) },
        keepaliveInterval: options.keepAliveSeconds * 1000,
        keepaliveCountMax: 3,
        readyTimeout: options.readyTimeoutSeconds * 1000,
        hostVerifier: (key: Buffer) => {
          if (pins) {
            hostKey = matchesPin(pins, key) ? 'known' : 'mismatch';
            return hostKey === 'known';
          }
          hostKey = checkHostKey(options.knownHostsPath, options.host, options.port, key);
          if (hostKey === 'new') recordHostKey(options.knownHostsPath, options.host, options.port, key);
          return hostKey !== 'mismatch';
        },
      });
      // ssh2 leaves Nagle on; Node applies this once the socket connects.
      client.setNoDelay(true);
    } catch (error) {
      fail(errors.sshKeyInvalid(options.keyLabel, (error as Error).message));
    }
  });
}

/** Quotes one argument for the remote POSIX shell. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An SFTP call by method name, promisified (ssh2's callbacks come last). */
export function sftpCall<T = void>(sftp: ssh2.SFTPWrapper, method: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    (sftp as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(sftp, ...args, (error: Error | null | undefined, value: T) => (error ? reject(error) : resolve(value)));
  });
}
