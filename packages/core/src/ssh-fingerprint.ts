// OpenSSH's `SHA256:<base64>` fingerprint of a public key blob, as `ssh-keygen -lf` prints it.
// Its own module with node:crypto only, so the agent bundle takes it without ssh2's server code.
import { createHash } from 'node:crypto';

export function sshFingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
