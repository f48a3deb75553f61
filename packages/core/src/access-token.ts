// Access tokens for private tunnels: a JWT signed by the account's own SSH key (EdDSA for
// ed25519, RS256 for RSA). Whoever holds the key owns the account, so no other secret is needed:
// the tunnel server checks the signature against the public key the tunnel was opened with.
import { createPrivateKey, createPublicKey } from 'node:crypto';
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
  issuedAt: number;
  expiresAt: number;
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

export async function signAccessToken(options: { privateKey: string | Buffer; envId?: string; ttlSeconds?: number }): Promise<string> {
  const key = parse(options.privateKey, 'the private key');
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new Error(`token ttl must be 1..${MAX_TTL_SECONDS} seconds, got ${ttl}`);
  const accountId = accountIdFromKeyBlob(key.getPublicSSH());
  const jwt = new SignJWT(options.envId ? { env: options.envId } : {})
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
  return { accountId, ...(env ? { envId: env } : {}), issuedAt: payload.iat!, expiresAt: payload.exp! };
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
