// Dashboard sessions. `prevu dashboard` signs a short-lived login token with the account key (the
// JWT of private access, core/src/access-token.ts, with the `dsh` claim, which opens no tunnel);
// /login trades it, once, for a random session id in a `__Host-` cookie. No password exists. The
// session belongs to the key's full fingerprint (`SHA256:...`) whose signature verified, so a key
// made to collide on the 50-bit accountId sees only its own envs. Sessions live in memory (a
// restart asks for a new `prevu dashboard`), bounded per key and in all, as are live sockets.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { claimedAccountId, verifyAccessToken } from '@prevu/core/access-token';
import { sshFingerprint } from '@prevu/core/ssh-fingerprint';
import type { Counters } from '../counters.js';
import type { Registry } from '../registry.js';

export const SESSION_COOKIE = '__Host-prevu_dashboard';
const SESSION_TTL_MS = 8 * 3600_000;
/** A login token travels in a URL: one that lives longer than this is refused. */
export const MAX_LOGIN_TTL_S = 600;
const MAX_SESSIONS_PER_KEY = 20;
const MAX_SESSIONS = 10_000;
const MAX_SOCKETS_PER_KEY = 8;
/** Keys one accountId is tried against (a 50-bit id: collisions are possible, never many). */
const MAX_KEYS_TRIED = 4;

const USED = 'This login link was used already. Run `prevu dashboard` again.';

export interface DashboardSession {
  id: string;
  /** `SHA256:...` of the account key: what owns envs and share links. */
  key: string;
  accountId: string;
  /** Sent with every form; a mutation without it is refused. */
  csrf: string;
  expiresAt: number;
}

export type LoginResult = { session: DashboardSession } | { refused: string };

export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();
  private readonly sockets = new Map<string, number>();

  /** `counters` remembers the login tokens already traded (their SHA-256) until they expire: each is good once, on any node. */
  constructor(
    private readonly registry: Registry,
    private readonly counters: Counters,
  ) {}

  async login(token: string): Promise<LoginResult> {
    const accountId = claimedAccountId(token);
    if (!accountId) return { refused: 'This is not a prevu login link.' };
    for (const blob of this.registry.keysOf(accountId).slice(0, MAX_KEYS_TRIED)) {
      let claims;
      try {
        claims = await verifyAccessToken(token, blob);
      } catch (error) {
        if (/exp/.test((error as Error).message)) return { refused: 'This login link has expired. Run `prevu dashboard` again.' };
        continue;
      }
      if (!claims.dashboard || claims.envId || claims.expiresAt - claims.issuedAt > MAX_LOGIN_TTL_S) return { refused: 'This token is not a dashboard login link. Run `prevu dashboard`.' };
      // Claimed only once verified: junk tokens never fill the store.
      const hash = createHash('sha256').update(token).digest('base64url');
      if (!(await this.counters.once(`dashboard-login:${hash}`, claims.expiresAt * 1000 - Date.now()))) return { refused: USED };
      return { session: this.open(sshFingerprint(blob), accountId) };
    }
    return { refused: 'No environment of this account is connected to this server, or the link was not made for it.' };
  }

  private open(key: string, accountId: string): DashboardSession {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
    const mine = [...this.sessions.values()].filter((s) => s.key === key);
    // The key's oldest session makes room: a key never locks itself out, nor fills the table.
    if (mine.length >= MAX_SESSIONS_PER_KEY) this.sessions.delete(mine[0]!.id);
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const session = { id: randomBytes(24).toString('base64url'), key, accountId, csrf: randomBytes(24).toString('base64url'), expiresAt: now + SESSION_TTL_MS };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session a request's cookie names, if live. */
  find(cookieHeader: string | undefined): DashboardSession | undefined {
    for (const part of (cookieHeader ?? '').split(';')) {
      const [name, value] = part.trim().split('=', 2);
      if (name !== SESSION_COOKIE || !value) continue;
      const session = this.sessions.get(value);
      if (session && session.expiresAt > Date.now()) return session;
    }
    return undefined;
  }

  logout(session: DashboardSession): void {
    this.sessions.delete(session.id);
  }

  csrfOk(session: DashboardSession, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A live-socket slot for the session's key, or undefined past the limit; call the release once. */
  socket(session: DashboardSession): (() => void) | undefined {
    const held = this.sockets.get(session.key) ?? 0;
    if (held >= MAX_SOCKETS_PER_KEY) return undefined;
    this.sockets.set(session.key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.sockets.get(session.key) ?? 1) - 1;
      if (left > 0) this.sockets.set(session.key, left);
      else this.sockets.delete(session.key);
    };
  }
}

export function sessionCookie(session: DashboardSession): string {
  return `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${Math.floor((session.expiresAt - Date.now()) / 1000)}`;
}
