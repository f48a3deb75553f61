// Share links are records: the CLI registers one here over SSH, as the account (`exec share-create`,
// JSON on stdin): its id, env, service scope, expiry and, with a password, its scrypt hash. The
// link's token carries only the id, so revoking the record (`exec share-rm`) refuses the token at
// once, cookies already issued included (every request looks the record up: a Map read). With a
// password, at /_prevu/login the browser's own prompt (HTTP Basic) asks for it; the right one gives
// a session cookie holding the token and a proof (an HMAC under this server's secret) that it was
// given here. Records and the secret live in the state dir, so restarts keep links and sessions.
// Records belong to the key's full fingerprint (`SHA256:...`), not the 50-bit accountId, so a key
// made to collide on the id gets nothing.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPassword, SHARE_ID, type PasswordRecord } from '@prevu/core/access-token';
import type { ShareLinkInfo, ShareLinkRegistration } from '@prevu/core/tunnel-protocol';
import { z } from 'zod';

const SECRET_FILE = 'share_session_secret';
const SECRET_BYTES = 32;
/** Records of the older password-only store (`share_passwords.json`) are not read: their tokens name no record. */
const STORE_FILE = 'share_links.json';
/** Wrong passwords allowed per link and window before its logins are refused for the window. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;
/** Live share links one key, and all keys together, may keep on a server (flags). */
export interface ShareLimits {
  perAccount: number;
  total: number;
}
/** The longest a token lives (access-token.ts), plus clock slack: no record outlives its link. */
const MAX_LIFETIME_S = 168 * 3600 + 300;

const SERVER_TOKEN_PREFIX = 'ps.';
const SERVER_TOKEN = /^ps\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/;
/** A share token the server made (`serverToken`), not a JWT. */
export const isServerToken = (token: string): boolean => token.startsWith(SERVER_TOKEN_PREFIX);

export const BASIC_REALM = 'Basic realm="prevu share link", charset="UTF-8"';

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/).max(128);
/** What `exec share-create` reads on stdin (ShareLinkRegistration). */
export const registrationSchema: z.ZodType<ShareLinkRegistration> = z
  .object({
    id: z.string().regex(SHARE_ID),
    /** Only this service's hostnames; absent: every service of the env. */
    service: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/).optional(),
    salt: base64url.optional(),
    hash: base64url.optional(),
    /** Unix seconds: the link's token expiry. */
    expiresAt: z.number().int().positive(),
  })
  .refine((r) => (r.salt === undefined) === (r.hash === undefined), { message: 'salt and hash go together', path: ['hash'] });
/** What `exec share-rm` reads on stdin. */
export const revocationSchema = z.object({ id: z.string().regex(SHARE_ID) });
const storedSchema = z.object({
  id: z.string().regex(SHARE_ID),
  service: z.string().optional(),
  salt: base64url.optional(),
  hash: base64url.optional(),
  expiresAt: z.number().int().positive(),
  createdAt: z.number().int().positive(),
  key: z.string().startsWith('SHA256:'),
  envId: z.string(),
});
export type ShareRecord = z.infer<typeof storedSchema>;

export type PasswordVerdict = 'ok' | 'wrong' | 'unknown' | 'blocked';

/** A registration refused for a reason the client may hear. */
export class RegistrationError extends Error {}

/** Writes through a temporary file: a crash never leaves a half-written (or empty) file. */
export function writeAtomically(path: string, data: string | Buffer): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

export class ShareLinks {
  private readonly failures = new Map<string, { count: number; since: number }>();

  private constructor(
    private readonly stateDir: string,
    private readonly secret: Buffer,
    private readonly records: Map<string, ShareRecord>,
    private readonly limits: ShareLimits,
  ) {}

  static load(stateDir: string, limits: ShareLimits): ShareLinks {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const secretPath = join(stateDir, SECRET_FILE);
    let secret: Buffer;
    try {
      secret = readFileSync(secretPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      secret = Buffer.alloc(0);
    }
    // A short secret (a file cut while first written) would make proofs guessable: make a new one.
    if (secret.length !== SECRET_BYTES) {
      secret = randomBytes(SECRET_BYTES);
      writeAtomically(secretPath, secret);
    }
    const records = new Map<string, ShareRecord>();
    try {
      const parsed = z.array(storedSchema).safeParse(JSON.parse(readFileSync(join(stateDir, STORE_FILE), 'utf8')));
      const now = Date.now() / 1000;
      if (parsed.success) for (const r of parsed.data) if (r.expiresAt > now) records.set(`${r.key}/${r.id}`, r);
    } catch {
      // none yet (or unreadable): links made before answer "unknown", nothing worse
    }
    return new ShareLinks(stateDir, secret, records, limits);
  }

  /** Keeps a link's record for its key and env until the link expires or is revoked. */
  register(key: string, envId: string, registration: ShareLinkRegistration): void {
    const now = Date.now() / 1000;
    if (registration.expiresAt > now + MAX_LIFETIME_S) throw new RegistrationError('share-create: expiresAt is more than 168 h away');
    for (const [id, r] of this.records) if (r.expiresAt <= now) this.records.delete(id);
    const held = [...this.records.values()].filter((r) => r.key === key).length;
    if (held >= this.limits.perAccount) throw new RegistrationError(`this key already has ${this.limits.perAccount} live share links; remove some with \`prevu share rm\``);
    if (this.records.size >= this.limits.total) throw new RegistrationError(`this server already keeps ${this.limits.total} share links; try again when some expire`);
    const id = `${key}/${registration.id}`;
    if (this.records.has(id)) throw new RegistrationError('share-create: this id is taken; make the link again');
    const next = new Map(this.records).set(id, { ...registration, key, envId, createdAt: Math.floor(now) });
    this.store(next);
  }

  /** The live links of a key (every env), oldest first; never their hashes. */
  list(key: string): ShareLinkInfo[] {
    const now = Date.now() / 1000;
    return [...this.records.values()]
      .filter((r) => r.key === key && r.expiresAt > now)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((r) => ({ id: r.id, envId: r.envId, ...(r.service ? { service: r.service } : {}), createdAt: r.createdAt, expiresAt: r.expiresAt, password: r.hash !== undefined }));
  }

  /** Drops a key's link; true when it was there. Every token naming it is refused from now on. */
  revoke(key: string, id: string): boolean {
    const at = `${key}/${id}`;
    if (!this.records.has(at)) return false;
    const next = new Map(this.records);
    next.delete(at);
    this.store(next);
    return true;
  }

  /** The record a share token names, when it is live and opens this env and service. */
  live(owner: string, envId: string, service: string, id: string): ShareRecord | undefined {
    const record = this.records.get(`${owner}/${id}`);
    if (!record || record.envId !== envId || record.expiresAt <= Date.now() / 1000) return undefined;
    return record.service === undefined || record.service === service ? record : undefined;
  }

  /**
   * A link the server makes itself (the dashboard holds no account key to sign a JWT with):
   * `ps.<id>.<HMAC(secret, key/id)>`. Like a signed token, it is good only while its record lives.
   */
  serverToken(key: string, id: string): string {
    return `${SERVER_TOKEN_PREFIX}${id}.${this.mac(key, id)}`;
  }

  /** The live record a server-made token names for this owner, env and service; undefined when its MAC or record is not right. */
  fromServerToken(token: string, owner: string, envId: string, service: string): ShareRecord | undefined {
    const m = SERVER_TOKEN.exec(token);
    if (!m) return undefined;
    const expected = Buffer.from(this.mac(owner, m[1]!));
    const given = Buffer.from(m[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    return this.live(owner, envId, service, m[1]!);
  }

  private mac(key: string, id: string): string {
    return createHmac('sha256', this.secret).update(`share-link ${key}/${id}`).digest('base64url');
  }

  /** Stored first: a record the file does not hold would vanish (or come back) at the next restart. */
  private store(next: Map<string, ShareRecord>): void {
    writeAtomically(join(this.stateDir, STORE_FILE), JSON.stringify([...next.values()]));
    this.records.clear();
    for (const [id, r] of next) this.records.set(id, r);
  }

  /**
   * Checks a password for a link. Each attempt is counted before the (slow, pooled) scrypt runs,
   * so a burst of guesses sent at once meets the limit as surely as a sequence does.
   */
  async check(record: ShareRecord, password: string): Promise<PasswordVerdict> {
    const key = `${record.key}/${record.id}`;
    if (record.salt === undefined || record.hash === undefined) return 'unknown';
    const now = Date.now();
    let seen = this.failures.get(key);
    if (!seen || now - seen.since > FAILURE_WINDOW_MS) {
      this.pruneFailures(now);
      seen = { count: 0, since: now };
      this.failures.set(key, seen);
    }
    if (seen.count >= MAX_FAILURES) return 'blocked';
    seen.count++;
    const right = await checkPassword({ salt: record.salt, hash: record.hash } satisfies PasswordRecord, password);
    if (right) seen.count--;
    return right ? 'ok' : 'wrong';
  }

  private pruneFailures(now: number): void {
    for (const [key, f] of this.failures) if (now - f.since > FAILURE_WINDOW_MS) this.failures.delete(key);
  }

  proof(token: string): string {
    return createHmac('sha256', this.secret).update(token).digest('base64url');
  }

  valid(token: string, proof: string): boolean {
    const expected = Buffer.from(this.proof(token));
    const given = Buffer.from(proof);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/** The password of an `Authorization: Basic` header (the user name is ignored). */
export function basicPassword(headers: Array<[string, string]>): string | undefined {
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== 'authorization') continue;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value.trim());
    if (!m) continue;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) return decoded.slice(colon + 1);
  }
  return undefined;
}
