// Private tunnels: a request passes with a prevu JWT signed by the tunnel account's own key,
// given as `Authorization: Bearer`, `X-Prevu-Token`, or the HttpOnly cookie made at
// /_prevu/login. Only prevu's own credentials are removed before the app sees the request; any
// other Authorization header reaches it untouched. Same check for WebSocket upgrades. Share-link
// tokens never open the agent's host, and those with a password need the proof made at login.
import { looksLikeAccessToken, verifyAccessToken, type AccessClaims } from '@prevu/core/access-token';
import { AGENT_SERVICE } from '@prevu/core/names';
import type { Tunnel } from '../registry.js';
import type { SharePasswords } from '../share-passwords.js';

export const COOKIE = 'prevu_session';
export const TOKEN_HEADER = 'x-prevu-token';
export const LOGIN_PATH = '/_prevu/login';

type Headers = Array<[string, string]>;

/** A token as presented; a cookie made after a share password also carries the server's proof. */
interface Presented {
  token: string;
  proof?: string;
}

/** Separates token and proof in the cookie (never a base64url or JWT character). */
const PROOF_SEPARATOR = '~';

interface Candidates {
  tokens: Presented[];
  /** The Authorization header value when it carries a prevu-looking bearer token. */
  bearer?: string;
}

function cookieValue(cookie: string, name: string): string | undefined {
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function candidates(headers: Headers): Candidates {
  const out: Candidates = { tokens: [] };
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === TOKEN_HEADER) out.tokens.push({ token: value });
    else if (lower === 'cookie') {
      const v = cookieValue(value, COOKIE);
      if (v) {
        const [token, proof] = v.split(PROOF_SEPARATOR, 2) as [string, string | undefined];
        out.tokens.push(proof ? { token, proof } : { token });
      }
    } else if (lower === 'authorization') {
      const m = /^Bearer\s+(\S+)$/i.exec(value);
      if (m && looksLikeAccessToken(m[1]!)) {
        out.tokens.push({ token: m[1]! });
        out.bearer = m[1]!;
      }
    }
  }
  return out;
}

/** Per host: a token good for an env's services (a share link) may not be for its agent. */
const cacheKey = (token: string, tunnel: Tunnel) => `${tunnel.hostname}/${token}`;

/** Per client connection: tokens already verified, so keep-alive requests skip the signature check. */
export class AccessCache {
  private readonly verified = new Map<string, number>(); // token -> expiry (ms)

  hit(token: string, tunnel: Tunnel): boolean {
    const until = this.verified.get(cacheKey(token, tunnel));
    return until !== undefined && until > Date.now();
  }

  remember(token: string, tunnel: Tunnel, expiresAt: number): void {
    if (this.verified.size > 16) this.verified.clear();
    this.verified.set(cacheKey(token, tunnel), expiresAt * 1000);
  }
}

/** A JWT in its one canonical spelling: a link may not get new tries by re-spelling its token. */
const CANONICAL_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The claims of a token good for this tunnel's env and account, or undefined. */
export async function claimsFor(token: string, tunnel: Tunnel): Promise<AccessClaims | undefined> {
  if (!CANONICAL_JWT.test(token)) return undefined;
  try {
    const claims = await verifyAccessToken(token, tunnel.owner.keyBlob);
    if (claims.envId && claims.envId !== tunnel.owner.envId) return undefined;
    // A share link opens the env's services, never its agent's API (logs, events).
    if (claims.share && tunnel.service === AGENT_SERVICE) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

/** Checks one presented token; resolves to its expiry (seconds) or undefined. */
async function verifyPresented(presented: Presented, tunnel: Tunnel, passwords: SharePasswords): Promise<number | undefined> {
  const claims = await claimsFor(presented.token, tunnel);
  if (!claims) return undefined;
  // A share link with a password opens only with the proof that the password was given here.
  if (claims.passwordId && !(presented.proof && passwords.valid(presented.token, presented.proof))) return undefined;
  return claims.expiresAt;
}

/**
 * Decides access: true/false, or a promise when a token still needs its signature checked.
 * `accepted` receives the token that passed (to strip a bearer header only when it was ours).
 */
export function checkAccess(headers: Headers, tunnel: Tunnel, cache: AccessCache, passwords: SharePasswords): { ok: boolean; bearer?: string } | Promise<{ ok: boolean; bearer?: string }> {
  const found = candidates(headers);
  const result = (token: string | undefined) => ({ ok: token !== undefined, ...(token && token === found.bearer ? { bearer: token } : {}) });
  const key = (p: Presented) => (p.proof ? `${p.token}${PROOF_SEPARATOR}${p.proof}` : p.token);
  for (const presented of found.tokens) if (cache.hit(key(presented), tunnel)) return result(presented.token);
  if (found.tokens.length === 0) return result(undefined);
  return (async () => {
    for (const presented of found.tokens) {
      const exp = await verifyPresented(presented, tunnel, passwords);
      if (exp !== undefined) {
        cache.remember(key(presented), tunnel, exp);
        return result(presented.token);
      }
    }
    return result(undefined);
  })();
}

/** The headers the app sees: prevu's cookie and header removed, its bearer token only if it was ours. */
export function stripCredentials(headers: Headers, acceptedBearer: string | undefined): Headers {
  const out: Headers = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === TOKEN_HEADER) continue;
    if (lower === 'authorization' && acceptedBearer && value.endsWith(acceptedBearer)) continue;
    if (lower === 'cookie' && value.includes(`${COOKIE}=`)) {
      const rest = value
        .split(';')
        .filter((p) => p.split('=', 1)[0]!.trim() !== COOKIE)
        .join(';')
        .trim();
      if (rest) out.push([name, rest]);
      continue;
    }
    out.push([name, value]);
  }
  return out;
}

export function loginCookie(token: string, expiresAt: number, secure: boolean, proof?: string): string {
  const maxAge = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
  const value = proof ? `${token}${PROOF_SEPARATOR}${proof}` : token;
  return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}
