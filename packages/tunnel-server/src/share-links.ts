// Share links are records: the CLI registers one here over SSH, as the account (`exec share-create`,
// JSON on stdin): its id, env, service scope, expiry and, with a password, its scrypt hash. The
// link's token carries only the id, so revoking the record (`exec share-rm`) refuses the token at
// once, cookies already issued included (every request with a share token looks the record up: a
// Map read, or one Redis GET in a cluster). With a password, at /_prevu/login the browser's own
// prompt (HTTP Basic) asks for it; the right one gives a session cookie holding the token and a
// proof (an HMAC under the server's secret) that it was given there. A server alone keeps records
// and secret in its state dir, so restarts keep links and sessions; a cluster keeps records in
// Redis and derives the secret from the cluster secret (cluster/redis-state.ts), so every node
// answers alike. Records belong to the key's full fingerprint (`SHA256:...`), not the 50-bit
// accountId, so a key made to collide on the id gets nothing.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPassword, SHARE_ID, type PasswordRecord } from '@prevu/core/access-token';
import type { ShareLinkInfo, ShareLinkRegistration } from '@prevu/core/tunnel-protocol';
import { z } from 'zod';
import type { Counters } from './counters.js';

const SECRET_FILE = 'share_session_secret';
export const SECRET_BYTES = 32;
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
export const MAX_LIFETIME_S = 168 * 3600 + 300;

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
export const storedSchema = z.object({
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

/** What a registration may be refused for by the store, which counts atomically (ShareLinks words it). */
export type AddOutcome = 'ok' | 'per-account' | 'total' | 'taken';

/**
 * Where records live: the state dir (FileShareStore) or Redis for a cluster
 * (cluster/redis-state.ts). Records are keyed by the key's fingerprint and the link id; the rules
 * (lifetime, env and service scope, messages) are ShareLinks', the limits' counting the store's,
 * as only it can count and add at once.
 */
export interface ShareStore {
  get(key: string, id: string): Promise<ShareRecord | undefined>;
  /** Adds a record unless the key or the store holds its limit of live ones, or the id is taken. */
  add(record: ShareRecord, limits: ShareLimits): Promise<AddOutcome>;
  /** The key's live records, any order. */
  list(key: string): Promise<ShareRecord[]>;
  /** True when it was there. */
  remove(key: string, id: string): Promise<boolean>;
}

/** Records in the state dir's `share_links.json`, held in memory: a read is a Map read. */
export class FileShareStore implements ShareStore {
  private constructor(
    private readonly stateDir: string,
    private readonly records: Map<string, ShareRecord>,
  ) {}

  static load(stateDir: string): FileShareStore {
    const records = new Map<string, ShareRecord>();
    try {
      const parsed = z.array(storedSchema).safeParse(JSON.parse(readFileSync(join(stateDir, STORE_FILE), 'utf8')));
      const now = Date.now() / 1000;
      if (parsed.success) for (const r of parsed.data) if (r.expiresAt > now) records.set(`${r.key}/${r.id}`, r);
    } catch {
      // none yet (or unreadable): links made before answer "unknown", nothing worse
    }
    return new FileShareStore(stateDir, records);
  }

  get(key: string, id: string): Promise<ShareRecord | undefined> {
    return Promise.resolve(this.records.get(`${key}/${id}`));
  }

  add(record: ShareRecord, limits: ShareLimits): Promise<AddOutcome> {
    const now = Date.now() / 1000;
    for (const [id, r] of this.records) if (r.expiresAt <= now) this.records.delete(id);
    const held = [...this.records.values()].filter((r) => r.key === record.key).length;
    if (held >= limits.perAccount) return Promise.resolve('per-account');
    if (this.records.size >= limits.total) return Promise.resolve('total');
    const id = `${record.key}/${record.id}`;
    if (this.records.has(id)) return Promise.resolve('taken');
    this.store(new Map(this.records).set(id, record));
    return Promise.resolve('ok');
  }

  list(key: string): Promise<ShareRecord[]> {
    const now = Date.now() / 1000;
    return Promise.resolve([...this.records.values()].filter((r) => r.key === key && r.expiresAt > now));
  }

  remove(key: string, id: string): Promise<boolean> {
    const at = `${key}/${id}`;
    if (!this.records.has(at)) return Promise.resolve(false);
    const next = new Map(this.records);
    next.delete(at);
    this.store(next);
    return Promise.resolve(true);
  }

  /** Stored first: a record the file does not hold would vanish (or come back) at the next restart. */
  private store(next: Map<string, ShareRecord>): void {
    writeAtomically(join(this.stateDir, STORE_FILE), JSON.stringify([...next.values()]));
    this.records.clear();
    for (const [id, r] of next) this.records.set(id, r);
  }
}

/** The records and the secret of a server alone: both in its state dir, so restarts keep links and sessions. */
export function stateDirShares(stateDir: string): { store: ShareStore; secret: Buffer } {
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
  return { store: FileShareStore.load(stateDir), secret };
}

export class ShareLinks {
  private readonly store: ShareStore;
  private readonly secret: Buffer;

  constructor(
    where: { store: ShareStore; secret: Buffer },
    private readonly counters: Counters,
    private readonly limits: ShareLimits,
  ) {
    this.store = where.store;
    this.secret = where.secret;
  }

  /** Keeps a link's record for its key and env until the link expires or is revoked. */
  async register(key: string, envId: string, registration: ShareLinkRegistration): Promise<void> {
    const now = Date.now() / 1000;
    if (registration.expiresAt > now + MAX_LIFETIME_S) throw new RegistrationError('share-create: expiresAt is more than 168 h away');
    const outcome = await this.store.add({ ...registration, key, envId, createdAt: Math.floor(now) }, this.limits);
    if (outcome === 'per-account') throw new RegistrationError(`this key already has ${this.limits.perAccount} live share links; remove some with \`prevu share rm\``);
    if (outcome === 'total') throw new RegistrationError(`this server already keeps ${this.limits.total} share links; try again when some expire`);
    if (outcome === 'taken') throw new RegistrationError('share-create: this id is taken; make the link again');
  }

  /** The live links of a key (every env), oldest first; never their hashes. */
  async list(key: string): Promise<ShareLinkInfo[]> {
    return (await this.store.list(key))
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((r) => ({ id: r.id, envId: r.envId, ...(r.service ? { service: r.service } : {}), createdAt: r.createdAt, expiresAt: r.expiresAt, password: r.hash !== undefined }));
  }

  /** Drops a key's link; true when it was there. Every token naming it is refused from now on. */
  revoke(key: string, id: string): Promise<boolean> {
    return this.store.remove(key, id);
  }

  /** The record a share token names, when it is live and opens this env and service. */
  async live(owner: string, envId: string, service: string, id: string): Promise<ShareRecord | undefined> {
    const record = await this.store.get(owner, id);
    if (!record || record.key !== owner || record.id !== id || record.envId !== envId || record.expiresAt <= Date.now() / 1000) return undefined;
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
  async fromServerToken(token: string, owner: string, envId: string, service: string): Promise<ShareRecord | undefined> {
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

  /**
   * Checks a password for a link. Each attempt is counted before the (slow, pooled) scrypt runs,
   * so a burst of guesses sent at once meets the limit as surely as a sequence does.
   */
  async check(record: ShareRecord, password: string): Promise<PasswordVerdict> {
    if (record.salt === undefined || record.hash === undefined) return 'unknown';
    const name = `share-password:${record.key}/${record.id}`;
    if ((await this.counters.count(name, FAILURE_WINDOW_MS)) > MAX_FAILURES) return 'blocked';
    const right = await checkPassword({ salt: record.salt, hash: record.hash } satisfies PasswordRecord, password);
    if (right) await this.counters.uncount(name);
    return right ? 'ok' : 'wrong';
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
