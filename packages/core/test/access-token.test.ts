// Access tokens signed by the account's SSH key, checked against the public key blob the tunnel
// server sees at SSH auth: both key types, env scoping, expiry, another account's key refused.
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { checkPassword, hashPassword, looksLikeAccessToken, signAccessToken, verifyAccessToken } from '../src/access-token.js';
import { accountIdFromKeyBlob } from '../src/names.js';
import { ed25519KeyPair } from '../src/ssh-keys.js';

function keyPair(type: 'ed25519' | 'rsa') {
  const pair = type === 'rsa' ? ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }) : ed25519KeyPair();
  const parsed = ssh2.utils.parseKey(pair.public) as ssh2.ParsedKey;
  return { privateKey: pair.private, blob: parsed.getPublicSSH() };
}

describe('access tokens', () => {
  for (const type of ['ed25519', 'rsa'] as const) {
    it(`signs with a ${type} key and verifies against its public blob`, async () => {
      const { privateKey, blob } = keyPair(type);
      const token = await signAccessToken({ privateKey, envId: 'shop-main', ttlSeconds: 600 });
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg).toBe(type === 'rsa' ? 'RS256' : 'EdDSA');
      expect(looksLikeAccessToken(token)).toBe(true);
      const claims = await verifyAccessToken(token, blob);
      expect(claims.accountId).toBe(accountIdFromKeyBlob(blob));
      expect(claims.envId).toBe('shop-main');
      expect(claims.expiresAt - claims.issuedAt).toBe(600);
    });
  }

  it('refuses a token signed by another key, and a tampered one', async () => {
    const mine = keyPair('ed25519');
    const theirs = keyPair('ed25519');
    const token = await signAccessToken({ privateKey: theirs.privateKey });
    await expect(verifyAccessToken(token, mine.blob)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    const own = await signAccessToken({ privateKey: mine.privateKey });
    const [h, , s] = own.split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'prevu', sub: accountIdFromKeyBlob(mine.blob), iat: 1, exp: 9_999_999_999 })).toString('base64url');
    await expect(verifyAccessToken(`${h}.${forged}.${s}`, mine.blob)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('refuses an expired token and a ttl outside 1 s .. 168 h', async () => {
    const { privateKey, blob } = keyPair('ed25519');
    const token = await signAccessToken({ privateKey, ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    await expect(verifyAccessToken(token, blob)).rejects.toThrow(/exp/);
    await expect(signAccessToken({ privateKey, ttlSeconds: 169 * 3600 })).rejects.toThrow(/ttl/);
    expect(looksLikeAccessToken('abc.def.ghi')).toBe(false);
  });

  it('share tokens: carry their record id only; older shapes (no id) are refused; the hash is made apart, salted', async () => {
    const { privateKey, blob } = keyPair('ed25519');
    expect(await verifyAccessToken(await signAccessToken({ privateKey }), blob)).toMatchObject({ share: false });
    const shareId = 'a'.repeat(24);
    const claims = await verifyAccessToken(await signAccessToken({ privateKey, shareId }), blob);
    expect(claims).toMatchObject({ share: true, shareId, dashboard: false });
    expect(await verifyAccessToken(await signAccessToken({ privateKey, dashboard: true, ttlSeconds: 120 }), blob)).toMatchObject({ share: false, dashboard: true });
    await expect(signAccessToken({ privateKey, shareId: 'short' })).rejects.toThrow(/16-64/);
    // What an older CLI signed: a share link no record names, so no revocation could reach it.
    const key = createPrivateKey((ssh2.utils.parseKey(privateKey) as ssh2.ParsedKey).getPrivatePEM());
    for (const claim of [{ shr: true }, { shr: true, pwd: shareId }]) {
      const older = await new SignJWT(claim).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('prevu').setSubject(accountIdFromKeyBlob(blob)).setIssuedAt().setExpirationTime('1h').sign(key);
      await expect(verifyAccessToken(older, blob)).rejects.toThrow(/older shape/);
    }

    const record = await hashPassword('correct horse');
    expect(await checkPassword(record, 'correct horse')).toBe(true);
    expect(await checkPassword(record, 'correct horsE')).toBe(false);
    expect((await hashPassword('correct horse')).hash).not.toBe(record.hash);
    await expect(hashPassword('short')).rejects.toThrow(/at least 8 characters/);
  });
});
