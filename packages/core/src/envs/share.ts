// `prevu urls --share`: login links with a token for this env only; with a password, its scrypt
// hash registered with the tunnel server over the account's connection.
import { randomBytes } from 'node:crypto';
import { hashPassword, MIN_PASSWORD_LENGTH, signAccessToken } from '../access-token.js';
import { errors } from '../errors.js';
import { connectTunnelServer, type Session } from '../session.js';
import type { UrlRow } from '../url-rows.js';

export interface SharedUrl extends UrlRow {
  /** Opens the URL in a browser: the tunnel server trades the token for an HttpOnly cookie. */
  share: string;
  expiresAt: string;
}

/**
 * Share links: a login URL per row with a token for this env only, never for its agent's API.
 * With a password, the tunnel server keeps its scrypt hash (registered over SSH as the account)
 * and the token carries only a random id: a link in the wrong hands cannot be guessed offline.
 */
export async function shareUrls(session: Session, envId: string, rows: UrlRow[], options: { ttlHours: number; password?: string }): Promise<SharedUrl[]> {
  const ttlSeconds = options.ttlHours * 3600;
  const { password } = options;
  let passwordId: string | undefined;
  if (password !== undefined) {
    if (!session.profile.private) {
      throw errors.sharePasswordPublic(session.profile.name);
    }
    if (password.length < MIN_PASSWORD_LENGTH) throw errors.sharePasswordShort(MIN_PASSWORD_LENGTH);
    passwordId = randomBytes(18).toString('base64url');
    const record = await hashPassword(password);
    // the connection `hello` checked (host key, account) carries the registration
    const { endpoint, client } = await connectTunnelServer(session, envId);
    try {
      const stdout = await client.exec('share-password', JSON.stringify({ id: passwordId, ...record, expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds }));
      if (stdout.trim() !== '{"ok":true}') throw errors.tunnelCommandFailed(endpoint.address, 'share-password', `it answered ${JSON.stringify(stdout.slice(0, 80))}`);
    } finally {
      client.close();
    }
  }
  const token = await signAccessToken({ privateKey: session.key.privateKey, envId, ttlSeconds, share: true, ...(passwordId ? { passwordId } : {}) });
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
  return rows.map((row) => {
    const share = new URL('/_prevu/login', row.url);
    share.searchParams.set('token', token);
    return { ...row, share: share.href, expiresAt };
  });
}
