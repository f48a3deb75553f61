// Share links with a password: such a link's token opens nothing by itself. At /_prevu/login the
// browser's own prompt (HTTP Basic) asks for the password, checked against the scrypt hash the
// token carries; the session cookie then holds the token plus a proof that the password was given
// here: an HMAC under this server's secret, kept in the state dir so restarts keep sessions.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SECRET_FILE = 'share_session_secret';
/** Wrong passwords allowed per token and window before logins with it are refused for a while. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;
const MAX_TRACKED = 1000;

export const BASIC_REALM = 'Basic realm="prevu share link", charset="UTF-8"';

export class SharePasswords {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(private readonly secret: Buffer) {}

  static load(stateDir: string): SharePasswords {
    const path = join(stateDir, SECRET_FILE);
    try {
      return new SharePasswords(readFileSync(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const secret = randomBytes(32);
      writeFileSync(path, secret, { mode: 0o600 });
      return new SharePasswords(secret);
    }
  }

  proof(token: string): string {
    return createHmac('sha256', this.secret).update(token).digest('base64url');
  }

  valid(token: string, proof: string): boolean {
    const expected = Buffer.from(this.proof(token));
    const given = Buffer.from(proof);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** False while a token has had too many wrong passwords (each check costs an scrypt). */
  mayTry(token: string): boolean {
    const seen = this.failures.get(token);
    return !seen || seen.count < MAX_FAILURES || Date.now() - seen.since > FAILURE_WINDOW_MS;
  }

  failed(token: string): void {
    const now = Date.now();
    const seen = this.failures.get(token);
    if (seen && now - seen.since <= FAILURE_WINDOW_MS) seen.count++;
    else {
      if (this.failures.size >= MAX_TRACKED) this.failures.clear();
      this.failures.set(token, { count: 1, since: now });
    }
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
