// One incoming tunnel channel = one HTTP connection from the tunnel server. It is connected to the
// service by its compose DNS name at that moment (never a cached IP, so a restarted container with
// a new address is reached), or answered with a page naming why the service is not routed.
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Route } from './state.js';

export interface Target {
  host: string;
  port: number;
}

const RETRY_AFTER_SECONDS = 5;

/** Pipes the channel to the target, or answers it with a 503 page when `route` says not ready. */
export function handleChannel(channel: Duplex, target: Target, route: Route, log: Logger, service: string): void {
  channel.on('error', () => {}); // peers vanish; the pipe below tears down both sides
  if (route.state !== 'ready') {
    answerPage(channel, route.state, route.reason ?? `service ${service} is not ready`);
    return;
  }
  const socket: Socket = connect({ host: target.host, port: target.port, noDelay: true });
  let connected = false;
  let answered = false; // the service sent something back on this connection
  let broken = false;
  socket.once('connect', () => {
    connected = true;
    channel.pipe(socket);
    socket.pipe(channel, { end: false });
  });
  socket.once('data', () => (answered = true));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    broken = true;
    if (connected) return; // 'close' follows
    log.debug({ service, err: error.code ?? error.message }, 'service did not accept the connection');
    // Up but not listening yet (or its name not resolvable yet): a retryable page, not a 502.
    answerPage(channel, 'starting', `service ${service} is not accepting connections on port ${target.port} yet (${error.code ?? error.message})`);
  });
  socket.on('close', () => {
    if (!connected) return;
    if (answered) {
      if (broken) channel.destroy();
      else channel.end();
      return;
    }
    // Closed before a single byte came back (a request in flight while the service stops): the
    // request was not served, so say so with a retryable page rather than let it become a 502.
    channel.unpipe(socket);
    answerPage(channel, 'starting', `service ${service} closed the connection without answering (it may be restarting)`, { now: true });
  });
  channel.on('close', () => socket.destroy());
}

/** A 503 page with Retry-After, sent once the request head arrives, then the channel is closed. */
export function answerPage(channel: Duplex, state: string, reason: string, options: { now?: boolean } = {}): void {
  const title = state === 'crash_loop' ? 'Service stopped after a crash loop' : state === 'stopped' ? 'Service not running' : state === 'unhealthy' ? 'Service unhealthy' : 'Service starting';
  answer(channel, { status: '503 Service Unavailable', state, title, reason, ...(state === 'crash_loop' ? {} : { retryAfter: RETRY_AFTER_SECONDS }) }, options);
}

/** Seconds a waking page asks a client (and a browser's refresh) to wait before trying again. */
export const WAKE_RETRY_SECONDS = 2;

/**
 * The lifecycle's pages (lifecycle.ts): `expired` is a 410 naming the env and the way back;
 * `waking` a 503 with Retry-After, which a browser (Accept: text/html) reloads by itself and a
 * script gets as one plain line.
 */
export function answerLifecyclePage(channel: Duplex, kind: 'expired' | 'waking', reason: string): void {
  if (kind === 'expired') return answer(channel, { status: '410 Gone', state: 'expired', title: 'Environment expired', reason, negotiate: true });
  answer(channel, { status: '503 Service Unavailable', state: 'waking', title: 'Waking up', reason, retryAfter: WAKE_RETRY_SECONDS, refresh: true, negotiate: true });
}

interface Page {
  status: string;
  state: string;
  title: string;
  reason: string;
  retryAfter?: number;
  /** A browser reloads it after retryAfter. */
  refresh?: boolean;
  /** HTML for a browser (Accept: text/html), plain text for anyone else. */
  negotiate?: boolean;
}

function answer(channel: Duplex, page: Page, options: { now?: boolean } = {}): void {
  const render = (requestHead: string) => {
    const html = !page.negotiate || /^accept:[^\r\n]*text\/html/im.test(requestHead);
    const refresh = page.refresh && page.retryAfter ? `<meta http-equiv="refresh" content="${page.retryAfter}">` : '';
    const body = html
      ? `<!doctype html><html><head><meta charset="utf-8">${refresh}<title>${page.title}</title></head><body><h1>${page.title}</h1><p>${escapeHtml(page.reason)}</p><p>prevu</p></body></html>\n`
      : `${page.title.toLowerCase()}: ${page.reason}\n`;
    const head = [
      `HTTP/1.1 ${page.status}`,
      `Content-Type: text/${html ? 'html' : 'plain'}; charset=utf-8`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...(page.retryAfter ? [`Retry-After: ${page.retryAfter}`] : []),
      `X-Prevu-State: ${page.state}`,
      'Cache-Control: no-store',
      'Connection: close',
    ].join('\r\n');
    return `${head}\r\n\r\n${body}`;
  };
  let sent = false;
  const send = (chunk?: Buffer) => {
    if (sent) return;
    sent = true;
    clearTimeout(timer);
    if (!channel.destroyed && !channel.writableEnded) channel.end(render(chunk ? chunk.toString('latin1') : ''));
  };
  const timer = options.now ? undefined : setTimeout(send, 2000);
  if (options.now) return send();
  // Answer after the request head so the response pairs with a request on the server's side.
  channel.once('data', send);
  channel.once('close', () => clearTimeout(timer));
  channel.resume();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
