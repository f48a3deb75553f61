// The server's ed25519 host key, made on first start and kept in the state dir so clients that
// pinned it keep trusting the server across restarts.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    writeFileSync(path, pair.private, { mode: 0o600 });
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
    privateKey = pair.private;
  }
  const blob = (ssh2.utils.parseKey(privateKey) as ssh2.ParsedKey).getPublicSSH();
  return { privateKey, fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}` };
}
