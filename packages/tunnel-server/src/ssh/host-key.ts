// The server's ed25519 host key, made on first start and kept in the state dir so clients that
// pinned it keep trusting the server across restarts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sshFingerprint } from '@prevu/core/ssh-fingerprint';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';
import ssh2 from 'ssh2';

export interface HostKey {
  privateKey: string;
  /** OpenSSH-style `SHA256:<base64>` fingerprint, what clients pin. */
  fingerprint: string;
}

export function loadHostKey(stateDir: string): HostKey {
  const path = join(stateDir, 'ssh_host_ed25519_key');
  let privateKey: string;
  try {
    privateKey = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const pair = ed25519KeyPair('prevu-tunnel-server');
    writeFileSync(path, pair.private, { mode: 0o600 });
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
    privateKey = pair.private;
  }
  const blob = (ssh2.utils.parseKey(privateKey) as ssh2.ParsedKey).getPublicSSH();
  return { privateKey, fingerprint: sshFingerprint(blob) };
}
