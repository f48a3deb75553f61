// Share links with a password. The CLI registers the password's scrypt hash here over SSH, as the
// account (`exec share-password`, JSON on stdin); the link's token carries only a random id, so
// holding a link gives nothing to guess offline. At /_prevu/login the browser's own prompt (HTTP
// Basic) asks for the password; the right one gives a session cookie holding the token and a proof
// (an HMAC under this server's secret) that it was given here. Hashes and the secret live in the
// state dir, so restarts keep links and sessions. Records belong to the key's full fingerprint
// (`SHA256:...`), not the 50-bit accountId, so a key made to collide on the id gets nothing.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPassword, PASSWORD_ID, type PasswordRecord } from '@prevu/core/access-token';
import { z } from 'zod';

const SECRET_FILE = 'share_session_secret';
const SECRET_BYTES = 32;
const STORE_FILE = 'share_passwords.json';
/** Wrong passwords allowed per link and window before its logins are refused for the window. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;
/** Live password links one key, and all keys together, may keep on a server (flags). */
export interface PasswordLimits {
  perAccount: number;
  total: number;
}
/** The longest a token lives (access-token.ts), plus clock slack: no record outlives its link. */
const MAX_LIFETIME_S = 168 * 3600 + 300;

export const BASIC_REALM = 'Basic realm="prevu share link", charset="UTF-8"';

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/).max(128);
/** What `exec share-password` reads on stdin. */
export const registrationSchema = z.object({
  id: z.string().regex(PASSWORD_ID),
  salt: base64url,
  hash: base64url,
  /** Unix seconds: the link's token expiry. */
  expiresAt: z.number().int().positive(),
});
/** Records of an older server (keyed by accountId) fail this and are dropped: their links answer "unknown". */
const storedSchema = registrationSchema.extend({ key: z.string().startsWith('SHA256:'), envId: z.string() });
type Stored = z.infer<typeof storedSchema>;

export type PasswordVerdict = 'ok' | 'wrong' | 'unknown' | 'blocked';

/** A registration refused for a reason the client may hear. */
export class RegistrationError extends Error {}

/** Writes through a temporary file: a crash never leaves a half-written (or empty) file. */
export function writeAtomically(path: string, data: string | Buffer): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

export class SharePasswords {
  private readonly failures = new Map<string, { count: number; since: number }>();

  private constructor(
    private readonly stateDir: string,
    private readonly secret: Buffer,
    private readonly records: Map<string, Stored>,
    private readonly limits: PasswordLimits,
  ) {}

  static load(stateDir: string, limits: PasswordLimits): SharePasswords {
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
    const records = new Map<string, Stored>();
    try {
      const parsed = z.array(storedSchema).safeParse(JSON.parse(readFileSync(join(stateDir, STORE_FILE), 'utf8')));
      const now = Date.now() / 1000;
      if (parsed.success) for (const r of parsed.data) if (r.expiresAt > now) records.set(`${r.key}/${r.id}`, r);
    } catch {
      // none yet (or unreadable): links made before answer "unknown", nothing worse
    }
    return new SharePasswords(stateDir, secret, records, limits);
  }

  /** Keeps a link's password hash for its key and env until the link expires. */
  register(key: string, envId: string, registration: z.infer<typeof registrationSchema>): void {
    const now = Date.now() / 1000;
    if (registration.expiresAt > now + MAX_LIFETIME_S) throw new RegistrationError('share-password: expiresAt is more than 168 h away');
    for (const [key, r] of this.records) if (r.expiresAt <= now) this.records.delete(key);
    const held = [...this.records.values()].filter((r) => r.key === key).length;
    if (held >= this.limits.perAccount) throw new RegistrationError(`this key already has ${this.limits.perAccount} live password links`);
    if (this.records.size >= this.limits.total) throw new RegistrationError(`this server already keeps ${this.limits.total} password links; try again when some expire`);
    const id = `${key}/${registration.id}`;
    const next = new Map(this.records).set(id, { ...registration, key, envId });
    // Stored first: a record the file does not hold would vanish at the next restart.
    writeAtomically(join(this.stateDir, STORE_FILE), JSON.stringify([...next.values()]));
    this.records.set(id, next.get(id)!);
  }

  /**
   * Checks a password for a link. Each attempt is counted before the (slow, pooled) scrypt runs,
   * so a burst of guesses sent at once meets the limit as surely as a sequence does.
   */
  async check(owner: string, envId: string, id: string, password: string): Promise<PasswordVerdict> {
    const key = `${owner}/${id}`;
    const record = this.records.get(key);
    if (!record || record.envId !== envId || record.expiresAt <= Date.now() / 1000) return 'unknown';
    const now = Date.now();
    let seen = this.failures.get(key);
    if (!seen || now - seen.since > FAILURE_WINDOW_MS) {
      this.pruneFailures(now);
      seen = { count: 0, since: now };
      this.failures.set(key, seen);
    }
    if (seen.count >= MAX_FAILURES) return 'blocked';
    seen.count++;
    const right = await checkPassword(record satisfies PasswordRecord, password);
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
