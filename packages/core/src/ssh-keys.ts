// SSH key pairs for profiles, the tunnel server's host key and tests.
import ssh2 from 'ssh2';

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generateKeyPairSync('ed25519') strips a leading
 * zero byte of the public key, so 1 pair in 256 is unreadable by ssh2 itself and by OpenSSH
 * (mscdex/ssh2#1513): make another one until both halves parse.
 */
export function ed25519KeyPair(comment?: string): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment === undefined ? {} : { comment });
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

/** The public half of an OpenSSH private key, as `ssh-ed25519 AAAA...`; undefined when it is not one. */
export function publicKeyOf(privateKey: string): string | undefined {
  const parsed = ssh2.utils.parseKey(privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) return undefined;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}
