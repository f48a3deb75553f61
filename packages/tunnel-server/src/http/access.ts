// Private tunnels: a request passes with a prevu JWT signed by the tunnel account's own key,
// given as `Authorization: Bearer`, `X-Prevu-Token`, or the HttpOnly cookie made at
// /_prevu/login. Only prevu's own credentials are removed before the app sees the request; any
// other Authorization header reaches it untouched. Same check for WebSocket upgrades.
import { looksLikeAccessToken, verifyAccessToken } from '@prevu/core/access-token';
import type { Tunnel } from '../registry.js';

export const COOKIE = 'prevu_session';
export const TOKEN_HEADER = 'x-prevu-token';
export const LOGIN_PATH = '/_prevu/login';

type Headers = Array<[string, string]>;

interface Candidates {
  tokens: string[];
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
    if (lower === TOKEN_HEADER) out.tokens.push(value);
    else if (lower === 'cookie') {
      const v = cookieValue(value, COOKIE);
      if (v) out.tokens.push(v);
    } else if (lower === 'authorization') {
      const m = /^Bearer\s+(\S+)$/i.exec(value);
      if (m && looksLikeAccessToken(m[1]!)) {
        out.tokens.push(m[1]!);
        out.bearer = m[1]!;
      }
    }
  }
  return out;
}

/** Per client connection: tokens already verified, so keep-alive requests skip the signature check. */
export class AccessCache {
  private readonly verified = new Map<string, number>(); // token -> expiry (ms)

  hit(token: string, tunnel: Tunnel): boolean {
    const until = this.verified.get(`${tunnel.owner.accountId}/${tunnel.owner.envId}/${token}`);
    return until !== undefined && until > Date.now();
  }

  remember(token: string, tunnel: Tunnel, expiresAt: number): void {
    if (this.verified.size > 16) this.verified.clear();
    this.verified.set(`${tunnel.owner.accountId}/${tunnel.owner.envId}/${token}`, expiresAt * 1000);
  }
}

/** Checks one token for one tunnel; resolves to its expiry (seconds) or undefined. */
export async function verifyFor(token: string, tunnel: Tunnel): Promise<number | undefined> {
  try {
    const claims = await verifyAccessToken(token, tunnel.owner.keyBlob);
    if (claims.envId && claims.envId !== tunnel.owner.envId) return undefined;
    return claims.expiresAt;
  } catch {
    return undefined;
  }
}

/**
 * Decides access: true/false, or a promise when a token still needs its signature checked.
 * `accepted` receives the token that passed (to strip a bearer header only when it was ours).
 */
export function checkAccess(headers: Headers, tunnel: Tunnel, cache: AccessCache): { ok: boolean; bearer?: string } | Promise<{ ok: boolean; bearer?: string }> {
  const found = candidates(headers);
  const result = (token: string | undefined) => ({ ok: token !== undefined, ...(token && token === found.bearer ? { bearer: token } : {}) });
  for (const token of found.tokens) if (cache.hit(token, tunnel)) return result(token);
  if (found.tokens.length === 0) return result(undefined);
  return (async () => {
    for (const token of found.tokens) {
      const exp = await verifyFor(token, tunnel);
      if (exp !== undefined) {
        cache.remember(token, tunnel, exp);
        return result(token);
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

export function loginCookie(token: string, expiresAt: number, secure: boolean): string {
  const maxAge = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
  return `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}
