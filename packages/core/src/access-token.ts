// Access tokens for private tunnels: a JWT signed by the account's own SSH key (EdDSA for
// ed25519, RS256 for RSA). Whoever holds the key owns the account, so no other secret is needed:
// the tunnel server checks the signature against the public key the tunnel was opened with.
import { createPrivateKey, createPublicKey, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import ssh2 from 'ssh2';
import { accountIdFromKeyBlob } from './names.js';

const ISSUER = 'prevu';
const DEFAULT_TTL_SECONDS = 3600;
const MAX_TTL_SECONDS = 168 * 3600;

export interface AccessClaims {
  accountId: string;
  /** When set, the token opens only this env's tunnels. */
  envId?: string;
  /** Made for a share link: opens the env's services, never its agent's API. */
  share: boolean;
  /** A share link's record on the tunnel server (scope, expiry, password hash); revoked, it opens nothing. */
  shareId?: string;
  /** Made by `prevu dashboard`: traded once for a dashboard session, never opens a tunnel. */
  dashboard: boolean;
  issuedAt: number;
  expiresAt: number;
}

/** A password as the tunnel server keeps it: scrypt with its own salt (base64url). */
export interface PasswordRecord {
  salt: string;
  hash: string;
}

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;
const HASH_BYTES = 32;
export const MIN_PASSWORD_LENGTH = 8;
export const SHARE_ID = /^[A-Za-z0-9_-]{16,64}$/;

async function scryptOf(password: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(password.normalize('NFC'), salt, HASH_BYTES);
}

/** What the tunnel server stores for a share password; the token itself carries only an id. */
export async function hashPassword(password: string): Promise<PasswordRecord> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new Error(`a share password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  const salt = randomBytes(16);
  return { salt: salt.toString('base64url'), hash: (await scryptOf(password, salt)).toString('base64url') };
}

/** True when `password` is the one the record was made from. */
export async function checkPassword(record: PasswordRecord, password: string): Promise<boolean> {
  const expected = Buffer.from(record.hash, 'base64url');
  const given = await scryptOf(password, Buffer.from(record.salt, 'base64url'));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

type ParsedKey = ssh2.ParsedKey;

function parse(key: string | Buffer, what: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(key);
  const one = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!one || one instanceof Error) throw new Error(`${what} is not a usable SSH key${one instanceof Error ? ` (${one.message})` : ''}`);
  return one;
}

function algorithmFor(type: string): 'EdDSA' | 'RS256' {
  if (type === 'ssh-ed25519') return 'EdDSA';
  if (type === 'ssh-rsa') return 'RS256';
  throw new Error(`access tokens need an ed25519 or RSA key, not ${type}`);
}

export async function signAccessToken(options: { privateKey: string | Buffer; envId?: string; ttlSeconds?: number; shareId?: string; dashboard?: boolean }): Promise<string> {
  const key = parse(options.privateKey, 'the private key');
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new Error(`token ttl must be 1..${MAX_TTL_SECONDS} seconds, got ${ttl}`);
  if (options.shareId !== undefined && !SHARE_ID.test(options.shareId)) throw new Error('a share id is 16-64 base64url characters');
  const claims: Record<string, unknown> = options.envId ? { env: options.envId } : {};
  if (options.shareId) claims.sid = options.shareId;
  // a login link is used once: two made in one second must differ (EdDSA signatures are deterministic)
  if (options.dashboard) Object.assign(claims, { dsh: true, jti: randomUUID() });
  const accountId = accountIdFromKeyBlob(key.getPublicSSH());
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: algorithmFor(key.type) })
    .setIssuer(ISSUER)
    .setSubject(accountId)
    .setIssuedAt()
    .setExpirationTime(`${ttl}s`);
  return jwt.sign(createPrivateKey(key.getPrivatePEM()));
}

/** Throws when the token is not a prevu token signed by this key, or has expired. */
export async function verifyAccessToken(token: string, publicKeyBlob: Uint8Array): Promise<AccessClaims> {
  const key = parse(Buffer.from(publicKeyBlob), 'the public key');
  const accountId = accountIdFromKeyBlob(publicKeyBlob);
  const { payload } = await jwtVerify(token, createPublicKey(key.getPublicPEM()), {
    algorithms: [algorithmFor(key.type)],
    issuer: ISSUER,
    subject: accountId,
    requiredClaims: ['exp', 'iat'],
  });
  const env = typeof payload.env === 'string' ? payload.env : undefined;
  // Share claims of older shapes (a bare `shr`, a password as `pw`/`pwd`) name no record, so no
  // revocation could reach them: refused, never read as an account token.
  if (payload.shr !== undefined || payload.pw !== undefined || payload.pwd !== undefined) throw new Error('the token is a share link of an older shape (no record id)');
  if (payload.sid !== undefined && (typeof payload.sid !== 'string' || !SHARE_ID.test(payload.sid))) throw new Error('the token has a malformed share claim');
  const shareId = payload.sid as string | undefined;
  return {
    accountId,
    ...(env ? { envId: env } : {}),
    share: shareId !== undefined,
    ...(shareId ? { shareId } : {}),
    dashboard: payload.dsh === true,
    issuedAt: payload.iat!,
    expiresAt: payload.exp!,
  };
}

/** The accountId a token claims, unverified: which keys to check its signature against. */
export function claimedAccountId(token: string): string | undefined {
  try {
    const { iss, sub } = decodeJwt(token);
    return iss === ISSUER && typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** Cheap shape check (a JWT whose issuer is prevu) before spending a signature check. */
export function looksLikeAccessToken(token: string): boolean {
  try {
    return decodeJwt(token).iss === ISSUER;
  } catch {
    return false;
  }
}
