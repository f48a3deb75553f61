// The pages a browser sees when prevu, not the app, answers: each names the cause and what to do.
import { STATUS_CODES } from 'node:http';
import { BASIC_REALM } from '../share-links.js';

export interface Page {
  status: number;
  title: string;
  detail: string;
  headers?: Record<string, string>;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** A header value as visible ASCII: anything else (CR, LF, NUL, non-ASCII) percent-encoded, so no value can split the head. */
const headerValue = (s: string) => s.replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c));

export const pages = {
  unknownHost: (host: string): Page => ({
    status: 404,
    title: 'No tunnel for this address',
    detail: `Nothing is registered at ${host}. Check the URL printed by \`prevu up\` or \`prevu urls\`.`,
  }),
  gone: (host: string, since: number): Page => ({
    status: 502,
    title: 'Tunnel gone',
    detail: `The environment behind ${host} disconnected at ${new Date(since).toISOString()}. It comes back when its agent reconnects (\`prevu up\` again if it was stopped).`,
  }),
  connecting: (host: string): Page => ({
    status: 503,
    title: 'Service not available yet',
    detail: `The environment behind ${host} reconnected but has not registered this address again yet. Retry in a moment.`,
    headers: { 'Retry-After': '2' },
  }),
  serviceRefused: (service: string, reason: string): Page => ({
    status: 503,
    title: 'Service not reachable yet',
    detail: `The tunnel is up but the service "${service}" did not accept the connection (${reason}). It may still be starting or not healthy.`,
    headers: { 'Retry-After': '5' },
  }),
  busy: (service: string, reason: string): Page => ({
    status: 503,
    title: 'Too many connections',
    detail: `"${service}" is not taking more connections right now: ${reason}.`,
    headers: { 'Retry-After': '1' },
  }),
  clientGone: (service: string, reason: string): Page => ({
    status: 502,
    title: 'Tunnel gone',
    detail: `The tunnel client for "${service}" went away (${reason}).`,
  }),
  unauthorized: (host: string): Page => ({
    status: 401,
    title: 'Private environment',
    detail: `${host} is private. Open it with a link made by \`prevu urls --share\`, or send a prevu token as "Authorization: Bearer", "X-Prevu-Token" or via /_prevu/login?token=...`,
  }),
  passwordNeeded: (host: string, wrong: boolean): Page => ({
    status: 401,
    title: wrong ? 'Wrong password' : 'Password needed',
    detail: `This share link for ${host} asks for the password it was made with (\`prevu urls --share --password\`).`,
    headers: { 'WWW-Authenticate': BASIC_REALM },
  }),
  unknownShareLink: (host: string): Page => ({
    status: 401,
    title: 'Unknown share link',
    detail: `This tunnel server has no live share link for ${host} under this token: it was revoked, has expired, is for another service, or was made for another server. Ask for a new link (\`prevu share\`).`,
  }),
  sharesUnavailable: (host: string): Page => ({
    status: 503,
    title: 'Share links unavailable',
    detail: `This tunnel server cannot look up share links for ${host} right now (its cluster's store does not answer). Retry in a moment.`,
    headers: { 'Retry-After': '5' },
  }),
  tooManyPasswords: (): Page => ({
    status: 429,
    title: 'Too many wrong passwords',
    detail: 'This share link had too many wrong passwords in a row. Wait a minute, then try again.',
    headers: { 'Retry-After': '60' },
  }),
  badRequest: (status: number, reason: string): Page => ({ status, title: STATUS_CODES[status] ?? 'Bad request', detail: `The request was refused: ${reason}.` }),
};

/** A page as status, headers (visible ASCII) and body: HTTP/1.1 writes it as bytes, HTTP/2 as a stream's response. */
export function pageResponse(page: Page): { status: number; headers: Record<string, string>; body: string } {
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>${page.status} ${escape(page.title)}</title></head><body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto"><h1>${escape(page.title)}</h1><p>${escape(page.detail)}</p><p style="color:#888">prevu tunnel server &middot; ${page.status}</p></body></html>\n`;
  const headers: Record<string, string> = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'X-Prevu-Error': page.title,
  };
  for (const [name, value] of Object.entries(page.headers ?? {})) headers[name] = value;
  for (const name of Object.keys(headers)) headers[name] = headerValue(headers[name]!);
  return { status: page.status, headers, body };
}

/** A redirect's headers (visible ASCII), no body. */
export function redirectHeaders(location: string, headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { Location: location, 'Content-Length': '0', 'Cache-Control': 'no-store', ...headers };
  for (const name of Object.keys(out)) out[name] = headerValue(out[name]!);
  return out;
}

function renderHead(status: number, headers: Record<string, string>): string {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return `${text}Connection: close\r\n\r\n`;
}

/** A complete HTTP/1.1 response that closes the connection. */
export function renderPage(page: Page, options: { head?: boolean } = {}): Buffer {
  const { status, headers, body } = pageResponse(page);
  return Buffer.from(`${renderHead(status, headers)}${options.head ? '' : body}`);
}

export function renderRedirect(location: string, headers: Record<string, string>, status: 302 | 308 = 302): Buffer {
  return Buffer.from(renderHead(status, redirectHeaders(location, headers)));
}
