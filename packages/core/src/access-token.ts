// Access tokens for private tunnels: a JWT signed by the account's own SSH key (EdDSA for
// ed25519, RS256 for RSA). Whoever holds the key owns the account, so no other secret is needed:
// the tunnel server checks the signature against the public key the tunnel was opened with.
import { createPrivateKey, createPublicKey, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, jwtVerify } from 'jose';
import ssh2 from 'ssh2';
import { accountIdFromKeyBlob } from './names.js';

const ISSUER = 'prevu';
const DEFAULT_TTL_SECONDS = 3600;
const MAX_TTL_SECONDS = 168 * 3600;

export interface AccessClaims {
  accountId: string;
  /** When set, the token opens only this env's tunnels. */
  envId?: string;
  /** A share link with a password: the token alone opens nothing until the password is given. */
  password?: PasswordClaim;
  issuedAt: number;
  expiresAt: number;
}

/** scrypt of the password with its own salt (base64url), so the token never carries the password. */
export interface PasswordClaim {
  salt: string;
  hash: string;
}

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;
const HASH_BYTES = 32;
export const MIN_PASSWORD_LENGTH = 8;

async function hashPassword(password: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(password.normalize('NFC'), salt, HASH_BYTES);
}

/** True when `password` is the one the share token was made with. */
export async function checkPassword(claim: PasswordClaim, password: string): Promise<boolean> {
  const expected = Buffer.from(claim.hash, 'base64url');
  const given = await hashPassword(password, Buffer.from(claim.salt, 'base64url'));
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

export async function signAccessToken(options: { privateKey: string | Buffer; envId?: string; ttlSeconds?: number; password?: string }): Promise<string> {
  const key = parse(options.privateKey, 'the private key');
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new Error(`token ttl must be 1..${MAX_TTL_SECONDS} seconds, got ${ttl}`);
  const claims: Record<string, unknown> = options.envId ? { env: options.envId } : {};
  if (options.password !== undefined) {
    if (options.password.length < MIN_PASSWORD_LENGTH) throw new Error(`a share password needs at least ${MIN_PASSWORD_LENGTH} characters`);
    const salt = randomBytes(16);
    claims.pw = { salt: salt.toString('base64url'), hash: (await hashPassword(options.password, salt)).toString('base64url') } satisfies PasswordClaim;
  }
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
  const pw = payload.pw as Partial<PasswordClaim> | undefined;
  // A password claim that is there but unreadable must not read as "no password".
  if (pw !== undefined && (typeof pw?.salt !== 'string' || typeof pw.hash !== 'string')) throw new Error('the token has a malformed password claim');
  return { accountId, ...(env ? { envId: env } : {}), ...(pw ? { password: { salt: pw.salt!, hash: pw.hash! } } : {}), issuedAt: payload.iat!, expiresAt: payload.exp! };
}

/** Cheap shape check (three base64url parts, iss prevu) before spending a signature check. */
export function looksLikeAccessToken(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { iss?: unknown };
    return payload.iss === ISSUER;
  } catch {
    return false;
  }
}
