// A real OpenSSH server for tests: its own config, ed25519 host key and authorized_keys in a
// private temp dir, on a loopback address. The login user is the one running the tests (root
// here); the "remote" Docker is this machine's Docker unless `dockerSocket` names another engine
// (machine.ts). It stands in for the ssh driver's host and for a Lightsail instance.
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Kit } from './kit.js';
import { freePort } from './ports.js';
import type { Proc } from './process.js';

const run = promisify(execFile);

export interface SshdOptions {
  /** Loopback address to listen on (default 127.0.0.1). */
  address?: string;
  /** Default: a free port. */
  port?: number;
  /** OpenSSH public key line allowed to log in; default: a client key pair made for this server. */
  authorizedKey?: string;
  /** Extra sshd_config lines (they come first, so they win). */
  config?: string[];
  /** A Docker socket its sessions see at /var/run/docker.sock (sshd runs in a private mount namespace); default: the host's. */
  dockerSocket?: string;
}

export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** The generated client key (when no authorizedKey was given): OpenSSH private key text and its file. */
  privateKey?: string;
  privateKeyPath?: string;
  publicKey?: string;
  /** `ssh-ed25519 AAAA...` and `SHA256:...` of the current host key. */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  dir: string;
  /** What sshd logged so far (`-e`: its log goes to stderr). */
  log(): string;
  /** Allows one more public key (sshd reads authorized_keys at each login: no restart). */
  authorize(publicKey: string): void;
  /** Restarts on the same address and port, with a fresh host key when asked (a "rebuilt" host). */
  restart(options?: { newHostKey?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

async function keygen(file: string, comment: string): Promise<void> {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

export async function startSshd(kit: Kit, options: SshdOptions = {}): Promise<Sshd> {
  const host = options.address ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const dir = mkdtempSync(join(tmpdir(), 'prevu-sshd-'));
  kit.defer(`sshd dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  // sshd refuses to start without its privilege separation directory (the Debian package makes it at boot).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const hostKey = join(dir, 'host_ed25519');
  await keygen(hostKey, 'prevu-test-host');
  let client: Pick<Sshd, 'privateKey' | 'privateKeyPath' | 'publicKey'> = {};
  let authorized = options.authorizedKey?.trim();
  if (!authorized) {
    const file = join(dir, 'client_ed25519');
    await keygen(file, 'prevu-test-client');
    authorized = readFileSync(`${file}.pub`, 'utf8').trim();
    client = { privateKey: readFileSync(file, 'utf8'), privateKeyPath: file, publicKey: authorized };
  }
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `${authorized}\n`, { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      ...(options.config ?? []),
      `ListenAddress ${host}:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'AllowStreamLocalForwarding yes',
      'AllowTcpForwarding yes',
      'Subsystem sftp internal-sftp',
      'MaxStartups 100:30:200',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );

  let proc: Proc | undefined;
  let logs = '';
  const sshd: Sshd = {
    host,
    port,
    user: userInfo().username,
    ...client,
    hostPublicKey: '',
    hostKeyFingerprint: '',
    dir,
    log: () => logs + (proc?.output() ?? ''),
    authorize: (publicKey) => appendFileSync(authorizedKeys, `${publicKey.trim()}\n`),
    async restart({ newHostKey = false } = {}) {
      await proc?.stop();
      logs += proc?.output() ?? '';
      if (newHostKey) await keygen(hostKey, 'prevu-test-host');
      await launch();
    },
    async stop() {
      await proc?.stop();
    },
  };
  const launch = async () => {
    sshd.hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    sshd.hostKeyFingerprint = (await run('ssh-keygen', ['-l', '-f', `${hostKey}.pub`])).stdout.split(/\s+/)[1]!;
    const sshdArgs = ['/usr/sbin/sshd', '-D', '-e', '-f', config];
    proc = await kit.start({
      ...(options.dockerSocket
        ? { command: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /var/run/docker.sock && shift && exec "$@"', 'sh', options.dockerSocket, ...sshdArgs] }
        : { command: sshdArgs[0]!, args: sshdArgs.slice(1) }),
      readyLine: /Server listening on/,
    });
  };
  await launch();
  return sshd;
}
