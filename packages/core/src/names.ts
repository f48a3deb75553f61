// The one module for prevu's names: accountId, envId, forward names and hostnames.
// The CLI, the tunnel server and the agent all import it; there is no second copy.
import { createHash } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const MAX_LABEL = 63;
export const ACCOUNT_ID_LENGTH = 10;
const HASH_LENGTH = 6;

/** RFC 4648 base32, lowercase, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function hash(text: string | Uint8Array, length: number): string {
  return base32(createHash('sha256').update(text).digest()).slice(0, length);
}

/** accountId: lowercase base32 of sha256 of the SSH public key blob (wire format), first 10 chars. */
export function accountIdFromKeyBlob(blob: Uint8Array): string {
  return hash(blob, ACCOUNT_ID_LENGTH);
}

/** Lowercase, anything outside [a-z0-9-] becomes a dash, dashes collapsed and trimmed. */
export function toLabelPart(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

export class InvalidNameError extends Error {
  override name = 'InvalidNameError';
}

/** Normalizes a user-given or derived env id; throws when nothing usable is left. */
export function normalizeEnvId(raw: string): string {
  const id = toLabelPart(raw);
  if (!id) throw new InvalidNameError(`env id "${raw}" has no letters or digits; pass --id with [a-z0-9-]`);
  return id;
}

/** Default env id: `<compose project>-<git branch>`, or the project alone outside git. */
export function defaultEnvId(project: string, branch?: string): string {
  return normalizeEnvId(branch ? `${project}-${branch}` : project);
}

/** The forward name a client binds: `<service>-<port>`, or `<service>` for a single-port service. */
export function forwardName(service: string, port?: number): string {
  const name = toLabelPart(service);
  if (!name) throw new InvalidNameError(`service name "${service}" has no letters or digits`);
  return port === undefined ? name : `${name}-${port}`;
}

/**
 * Accepts a bind address (`web-80`, `web-50051#proto=h2c`) or streamlocal path
 * (`/web-80#access=private`). The fragment carries flags: `access=private`, and `proto=h2c` for a
 * service that speaks HTTP/2 without TLS (gRPC), which the server then talks HTTP/2 to.
 */
export function parseForwardName(raw: string): { name: string; service: string; port?: number; private: boolean; h2c: boolean } {
  const [pathPart = '', fragment = ''] = raw.split('#', 2);
  const isPrivate = /(^|&)access=private(&|$)/.test(fragment);
  const h2c = /(^|&)proto=h2c(&|$)/.test(fragment);
  const name = toLabelPart(pathPart.replace(/^\/+/, ''));
  if (!name) throw new InvalidNameError(`forward name "${raw}" is empty; bind "<service>-<port>" or "<service>"`);
  const match = /^(.+?)-(\d{1,5})$/.exec(name);
  if (match && Number(match[2]) <= 65535) {
    return { name, service: match[1]!, port: Number(match[2]), private: isPrivate, h2c };
  }
  return { name, service: name, private: isPrivate, h2c };
}

/**
 * The DNS label `<forward>-<envId>-<accountId>`. When it is longer than 63 characters the envId
 * is cut and a 6-character hash of the full label is put in its place, so distinct long names stay
 * distinct and the same input always gives the same label.
 */
export function hostLabel(forward: string, envId: string, accountId: string): string {
  const full = `${forward}-${envId}-${accountId}`;
  if (full.length <= MAX_LABEL) return full;
  const digest = hash(full, HASH_LENGTH);
  const fixed = forward.length + accountId.length + HASH_LENGTH + 3; // three dashes
  const room = MAX_LABEL - fixed;
  if (room >= 1) {
    const cut = envId.slice(0, room).replace(/-+$/, '');
    return cut ? `${forward}-${cut}-${digest}-${accountId}` : `${forward}-${digest}-${accountId}`;
  }
  // The forward name alone is too long: keep as much of it as fits.
  const head = forward.slice(0, MAX_LABEL - accountId.length - HASH_LENGTH - 2).replace(/-+$/, '');
  return `${head}-${digest}-${accountId}`;
}

export function hostname(forward: string, envId: string, accountId: string, baseDomain: string): string {
  return `${hostLabel(forward, envId, accountId)}.${baseDomain.toLowerCase()}`;
}

/** Host header -> lowercase hostname without port or trailing dot. */
export function hostFromHeader(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.trim().toLowerCase();
  const bare = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return bare.replace(/\.$/, '') || undefined;
}

/** Compose project name for an env, so two branches of one project coexist on one machine. */
export function composeProjectName(envId: string): string {
  return `prevu-${envId}`;
}

/** Env variable name the overlay gives every service: PREVU_URL_<SERVICE>[_<PORT>]. */
export function urlEnvName(service: string, port?: number): string {
  const svc = service.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  return port === undefined ? `PREVU_URL_${svc}` : `PREVU_URL_${svc}_${port}`;
}

/** The agent's own private tunnel: its API answers the CLI through the tunnel server. */
export const AGENT_SERVICE = 'prevu-agent';
/** The dashboard's host is `dash.<base>`: a label without the `-<accountId>` every tunnel host ends with, so no tunnel can take it. */
export const DASHBOARD_LABEL = 'dash';
/** The env name a CLI connection logs in with when it acts for the whole account (`share ls`, `share rm`); it never forwards. */
export const ACCOUNT_SESSION_ENV = 'prevu-account';
export const AGENT_API_PORT = 3000;
