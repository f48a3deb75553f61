// A self-hosted tunnel server as its users meet it, for `prevu doctor`: a random name under the
// base domain resolves (the wildcard record), the HTTPS port answers with a certificate that
// covers `*.<base>` and is not about to expire. Each check throws one PrevuError line.
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { request } from 'undici';
import { errors } from './errors.js';
import { localhostAwareLookup } from './localhost-lookup.js';
import { trustedCas } from './tunnel-address.js';
import { parseBaseUrl } from './urls.js';

/** A certificate closer than this to its end is a failed check: renewals fail quietly. */
export const CERTIFICATE_MARGIN_DAYS = 14;
const DAY_MS = 86_400_000;

const lookup = promisify(localhostAwareLookup as (host: string, options: object, cb: (error: NodeJS.ErrnoException | null, address: string) => void) => void);

/** A label no one has asked for, so only a wildcard record can answer it. */
function randomHost(baseDomain: string): string {
  return `prevu-doctor-${randomBytes(4).toString('hex')}.${baseDomain}`;
}

/** `*.<base>` resolves: a random name under it has an address. */
export async function checkWildcardDns(baseUrl: string): Promise<string> {
  const { baseDomain } = parseBaseUrl(baseUrl);
  const host = randomHost(baseDomain);
  try {
    return `*.${baseDomain} resolves (${host} -> ${await lookup(host, {})})`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND') throw errors.baseDomainUnresolved(host, baseDomain);
    throw errors.tunnelServerUnreachable(host, code ?? (error as Error).message);
  }
}

/** The HTTP(S) port answers a random name under the base domain; for HTTPS with a certificate fit for it (trusted: by the system CAs, or `ca`, the profile's --ca-file). */
export async function checkCertificate(baseUrl: string, now = Date.now(), ca?: string): Promise<string> {
  const base = parseBaseUrl(baseUrl);
  const host = randomHost(base.baseDomain);
  const port = base.port ?? (base.scheme === 'https' ? 443 : 80);
  const address = await lookup(host, {});
  if (base.scheme !== 'https') {
    const status = await request(`http://${address.includes(':') ? `[${address}]` : address}:${port}/`, { headers: { host: `${host}:${port}` }, headersTimeout: 5000, bodyTimeout: 5000 }).then(
      async (res) => (await res.body.dump(), res.statusCode),
      (error: NodeJS.ErrnoException) => {
        throw errors.tunnelServerUnreachable(`${base.baseDomain}:${port}`, error.code ?? error.message);
      },
    );
    return `port ${port} answers (HTTP ${status}); plain HTTP: URLs are not private in transit (give the server --tls-cert/--tls-key)`;
  }
  const { cert, authorized, authorizationError } = await new Promise<{ cert: PeerCertificate; authorized: boolean; authorizationError?: Error }>((resolve, reject) => {
    // Not verified here: the point is to say what is wrong with it, not to refuse it.
    const trusted = trustedCas(ca);
    const socket = connect({ host: address, port, servername: host, rejectUnauthorized: false, timeout: 5000, ...(trusted ? { ca: trusted } : {}) }, () => {
      resolve({ cert: socket.getPeerCertificate(), authorized: socket.authorized, ...(socket.authorizationError ? { authorizationError: socket.authorizationError } : {}) });
      socket.end();
    });
    socket.once('timeout', () => socket.destroy(new Error('ETIMEDOUT')));
    socket.once('error', reject);
  }).catch((error: NodeJS.ErrnoException) => {
    throw errors.tunnelServerUnreachable(`${base.baseDomain}:${port}`, error.code ?? error.message);
  });
  const mismatch = checkServerIdentity(host, cert);
  if (mismatch) throw errors.certificateMismatch(base.baseDomain, cert.subjectaltname ?? [cert.subject?.CN ?? 'no names'].flat().join(', '));
  const daysLeft = Math.floor((Date.parse(cert.valid_to) - now) / DAY_MS);
  if (daysLeft < CERTIFICATE_MARGIN_DAYS) throw errors.certificateExpiring(base.baseDomain, daysLeft, cert.valid_to);
  const trust = authorized ? 'trusted by this machine' : `not trusted by this machine (${String(authorizationError)}): browsers warn unless they trust its issuer, as with --dev-tls`;
  return `port ${port} answers; its certificate covers *.${base.baseDomain} and is valid for ${daysLeft} more days; ${trust}`;
}
