// The server's ed25519 host key, made on first start and kept in the state dir so clients that
// pinned it keep trusting the server across restarts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export function loadHostKey(stateDir: string): string {
  const path = join(stateDir, 'ssh_host_ed25519_key');
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  writeFileSync(path, pair.private, { mode: 0o600 });
  writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  return pair.private;
}
