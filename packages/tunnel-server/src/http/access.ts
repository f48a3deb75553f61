// Private tunnels: a request passes with a prevu JWT signed by the tunnel account's own key,
// given as `Authorization: Bearer`, `X-Prevu-Token`, or the HttpOnly cookie made at
// /_prevu/login. prevu's own credentials (its header, its cookies, a bearer token issued by prevu)
// are removed before any app, public or private, sees the request; any other Authorization header
// reaches it untouched. Same check for WebSocket upgrades. Share-link tokens never open the
// agent's host, open only while their record lives (share-links.ts: revoked, refused at once, even
// on a keep-alive connection that was let in before), and those with a password need the proof
// made at login.
// The cookie is `__Host-` prefixed: a sibling tenant's app under the same base domain can plant a
// cookie for the whole domain, but never a `__Host-` one, and every presented one is tried.
import { looksLikeAccessToken, verifyAccessToken, type AccessClaims } from '@prevu/core/access-token';
import { AGENT_SERVICE } from '@prevu/core/names';
import type { Tunnel } from '../registry.js';
import { basicPassword, isServerToken, type ShareLinks, type ShareRecord } from '../share-links.js';
import { pages, type Page } from './error-pages.js';

export const COOKIE = '__Host-prevu_session';
/** The name before the `__Host-` prefix: never read (anyone under the base domain can set it), always stripped. */
const LEGACY_COOKIE = 'prevu_session';
/** Tokens tried per request at most: each costs a signature check. */
const MAX_CANDIDATES = 8;
export const TOKEN_HEADER = 'x-prevu-token';
const LOGIN_PATH = '/_prevu/login';

/** Whether a request target is /_prevu/login (with or without a query). */
export const isLogin = (target: string) => target.startsWith(LOGIN_PATH) && /^\/_prevu\/login(\?|$)/.test(target);

type Headers = Array<[string, string]>;

/** A token as presented; a cookie made after a share password also carries the server's proof. */
interface Presented {
  token: string;
  proof?: string;
}

/** Separates token and proof in the cookie (never a base64url or JWT character). */
const PROOF_SEPARATOR = '~';

const cookieName = (part: string) => part.split('=', 1)[0]!.trim();

/** The prevu token of an `Authorization: Bearer` value, if it is one. */
function prevuBearer(value: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(value);
  return m && looksLikeAccessToken(m[1]!) ? m[1]! : undefined;
}

/** Every token presented, in order, at most MAX_CANDIDATES: a junk cookie never hides a good one. */
function candidates(headers: Headers): Presented[] {
  const out: Presented[] = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === TOKEN_HEADER) out.push({ token: value });
    else if (lower === 'cookie') {
      for (const part of value.split(';')) {
        if (cookieName(part) !== COOKIE) continue;
        const [token = '', proof] = part.slice(part.indexOf('=') + 1).trim().split(PROOF_SEPARATOR, 2);
        if (token) out.push(proof ? { token, proof } : { token });
      }
    } else if (lower === 'authorization') {
      const token = prevuBearer(value);
      if (token) out.push({ token });
    }
  }
  return out.slice(0, MAX_CANDIDATES);
}

/** Per host: a token good for an env's services (a share link) may not be for its agent. */
const cacheKey = (token: string, tunnel: Tunnel) => `${tunnel.hostname}/${token}`;

/** A verified token: until when, and the share record it needs to stay live. */
export interface Verified {
  until: number;
  shareId?: string;
}

/** Per client connection: tokens already verified, so keep-alive requests skip the signature check (never the revocation check). */
export class AccessCache {
  private readonly verified = new Map<string, Verified>();

  /** A token verified on this connection and not expired; a share token's record is still to be looked up. */
  hit(token: string, tunnel: Tunnel): Verified | undefined {
    const seen = this.verified.get(cacheKey(token, tunnel));
    return seen && seen.until > Date.now() ? seen : undefined;
  }

  remember(token: string, tunnel: Tunnel, claims: AccessClaims): void {
    if (this.verified.size > 16) this.verified.clear();
    this.verified.set(cacheKey(token, tunnel), { until: claims.expiresAt * 1000, ...(claims.shareId ? { shareId: claims.shareId } : {}) });
  }
}

/** A JWT in its one canonical spelling: a link may not get new tries by re-spelling its token. */
const CANONICAL_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The claims of a token good for this tunnel's env and account, or undefined: a JWT signed by the
 * account key, or a share token the server made (the dashboard's), read as the claims of its record.
 */
export async function claimsFor(token: string, tunnel: Tunnel, links: ShareLinks): Promise<AccessClaims | undefined> {
  if (isServerToken(token)) {
    const record = tunnel.service === AGENT_SERVICE ? undefined : await links.fromServerToken(token, tunnel.owner.key, tunnel.owner.envId, tunnel.service);
    return record && { accountId: tunnel.owner.accountId, envId: record.envId, share: true, shareId: record.id, dashboard: false, issuedAt: record.createdAt, expiresAt: record.expiresAt };
  }
  if (!CANONICAL_JWT.test(token)) return undefined;
  try {
    const claims = await verifyAccessToken(token, tunnel.owner.keyBlob);
    if (claims.envId && claims.envId !== tunnel.owner.envId) return undefined;
    // A dashboard login token is traded once for a dashboard session; it opens no tunnel.
    if (claims.dashboard) return undefined;
    // A share link opens the env's services, never its agent's API (logs, events).
    if (claims.share && tunnel.service === AGENT_SERVICE) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

/** The share record a share token names, live for this tunnel's env and service; undefined for an account token. */
export async function shareRecordFor(claims: AccessClaims, tunnel: Tunnel, links: ShareLinks): Promise<ShareRecord | 'none' | undefined> {
  if (!claims.shareId) return 'none';
  return links.live(tunnel.owner.key, tunnel.owner.envId, tunnel.service, claims.shareId);
}

/** Checks one presented token; resolves to its claims or undefined. */
async function verifyPresented(presented: Presented, tunnel: Tunnel, links: ShareLinks): Promise<AccessClaims | undefined> {
  const claims = await claimsFor(presented.token, tunnel, links);
  if (!claims) return undefined;
  const record = await shareRecordFor(claims, tunnel, links);
  if (!record) return undefined;
  // A share link with a password opens only with the proof that the password was given here.
  if (record !== 'none' && record.hash !== undefined && !(presented.proof && links.valid(presented.token, presented.proof))) return undefined;
  return claims;
}

/**
 * Decides access: undefined lets the request in, a page refuses it; a promise of either when a
 * token still needs its signature or its share record checked. A share record that cannot be
 * looked up (Redis away) refuses: never a revoked link let in.
 */
export function checkAccess(headers: Headers, tunnel: Tunnel, cache: AccessCache, links: ShareLinks): Page | undefined | Promise<Page | undefined> {
  const found = candidates(headers);
  const key = (p: Presented) => (p.proof ? `${p.token}${PROOF_SEPARATOR}${p.proof}` : p.token);
  // An account token verified on this connection lets in at once; a share token's record is looked up below.
  const account = (presented: Presented) => {
    const seen = cache.hit(key(presented), tunnel);
    return seen !== undefined && seen.shareId === undefined;
  };
  if (found.some(account)) return undefined;
  if (found.length === 0) return pages.unauthorized(tunnel.hostname);
  return (async () => {
    let unavailable = false;
    for (const presented of found) {
      try {
        const seen = cache.hit(key(presented), tunnel);
        if (seen?.shareId !== undefined && (await links.live(tunnel.owner.key, tunnel.owner.envId, tunnel.service, seen.shareId))) return undefined;
        if (seen) continue;
        const claims = await verifyPresented(presented, tunnel, links);
        if (claims) {
          cache.remember(key(presented), tunnel, claims);
          return undefined;
        }
      } catch {
        unavailable = true; // the store logged it
      }
    }
    return unavailable ? pages.sharesUnavailable(tunnel.hostname) : pages.unauthorized(tunnel.hostname);
  })();
}

/** The headers an app sees: prevu's header, cookies and bearer tokens removed, whoever they were for. */
export function stripCredentials(headers: Headers): Headers {
  const out: Headers = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === TOKEN_HEADER) continue;
    if (lower === 'authorization' && prevuBearer(value)) continue;
    if (lower === 'cookie') {
      const rest = value
        .split(';')
        .filter((p) => cookieName(p) !== COOKIE && cookieName(p) !== LEGACY_COOKIE)
        .join(';')
        .trim();
      if (rest) out.push([name, rest]);
      continue;
    }
    out.push([name, value]);
  }
  return out;
}

/** `Secure` always, as `__Host-` requires: browsers count http://*.localhost as secure, and with TLS on plain HTTP only redirects. */
export function loginCookie(token: string, expiresAt: number, proof?: string): string {
  const maxAge = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
  const value = proof ? `${token}${PROOF_SEPARATOR}${proof}` : token;
  return `${COOKIE}=${value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${maxAge}`;
}

/**
 * The `next` of /_prevu/login when it is a path on the same origin: no scheme or authority
 * (`//evil`, `/\evil`, which browsers read as `//evil`), no control characters (header splitting).
 */
export function sameOriginPath(next: string | null): string {
  // eslint-disable-next-line no-control-regex -- control bytes are what it refuses
  if (!next || !next.startsWith('/') || /[\\\x00-\x1f\x7f]/.test(next)) return '/';
  const url = new URL(next, 'http://origin.invalid');
  return url.origin === 'http://origin.invalid' ? `${url.pathname}${url.search}${url.hash}` : '/';
}

/**
 * GET /_prevu/login?token=<jwt>[&next=/path]: a page (refused, an unknown or revoked link, password
 * needed) or a redirect that sets the session cookie. HTTP/1.1 and HTTP/2 only write the outcome.
 */
export async function login(target: string, headers: Headers, tunnel: Tunnel, links: ShareLinks): Promise<{ page: Page } | { location: string; cookie: string }> {
  try {
    return await loginWith(target, headers, tunnel, links);
  } catch {
    return { page: pages.sharesUnavailable(tunnel.hostname) }; // the store logged it
  }
}

async function loginWith(target: string, headers: Headers, tunnel: Tunnel, links: ShareLinks): Promise<{ page: Page } | { location: string; cookie: string }> {
  const url = new URL(target, 'http://x');
  const token = url.searchParams.get('token') ?? '';
  const claims = token ? await claimsFor(token, tunnel, links) : undefined;
  if (!claims) return { page: pages.unauthorized(tunnel.hostname) };
  const record = await shareRecordFor(claims, tunnel, links);
  if (!record) return { page: pages.unknownShareLink(tunnel.hostname) };
  let proof: string | undefined;
  if (record !== 'none' && record.hash !== undefined) {
    const password = basicPassword(headers);
    const verdict = password === undefined ? 'missing' : await links.check(record, password);
    if (verdict === 'blocked') return { page: pages.tooManyPasswords() };
    if (verdict === 'unknown') return { page: pages.unknownShareLink(tunnel.hostname) };
    if (verdict !== 'ok') return { page: pages.passwordNeeded(tunnel.hostname, verdict === 'wrong') };
    proof = links.proof(token);
  }
  return { location: sameOriginPath(url.searchParams.get('next')), cookie: loginCookie(token, claims.expiresAt, proof) };
}
