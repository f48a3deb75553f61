// OpenSSH's `SHA256:<base64>` fingerprint of a public key blob, as `ssh-keygen -lf` prints it, and
// host-key pins. Its own module with node:crypto only, so the agent bundle takes it without
// ssh2's server code.
import { createHash } from 'node:crypto';

export function sshFingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * A host-key pin: the fingerprint (`SHA256:...`, as `ssh-keygen -lf` prints it) or the public key
 * line (`ssh-ed25519 AAAA...`, as in known_hosts or `ssh-keyscan`, a comment allowed).
 */
export const HOST_KEY_PIN = /^(SHA256:[A-Za-z0-9+/]{43}=?|(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}( .*)?)$/;
export const HOST_KEY_PIN_HINT = 'a host key is SHA256:... (ssh-keygen -lf) or "ssh-ed25519 AAAA..." (ssh-keyscan)';

/** The fingerprint a pin stands for. */
export function pinFingerprint(pin: string): string {
  return pin.startsWith('SHA256:') ? pin.replace(/=$/, '') : sshFingerprint(Buffer.from(pin.split(/\s+/)[1] ?? '', 'base64'));
}

/** Whether the key a server presented (SSH wire format) is one of the pins. */
export function matchesPin(pins: readonly string[], keyBlob: Uint8Array): boolean {
  const presented = sshFingerprint(keyBlob);
  return pins.some((pin) => pinFingerprint(pin) === presented);
}
