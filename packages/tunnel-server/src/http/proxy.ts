// One client connection through the proxy. Request heads are parsed (routing, private access and
// X-Forwarded-* on every request), request bodies are followed only to find the next head, and the
// response direction is spliced byte for byte from one SSH channel that stays bound to this client
// connection for as long as it keeps asking the same tunnel: 20 keep-alive requests, one channel.
// An upgrade (WebSocket) holds the client's further bytes until the service answers: a 101 turns
// the connection into a plain splice both ways, anything else resumes request parsing.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AGENT_SERVICE, hostFromHeader } from '@prevu/core/names';
import type { Logger } from 'pino';
import { ChannelLimitError, type Registry, type Route, type Tunnel, type TunnelOwner } from '../registry.js';
import type { Metrics } from '../metrics.js';
import { AccessCache, checkAccess, isLogin, login } from './access.js';
import { pages, renderPage, renderRedirect, type Page } from './error-pages.js';
import { ChunkedFramer, HeadError, parseHead, serializeHead, type RequestHead } from './head.js';
import type { ShareLinks } from '../share-links.js';
import { forwardedHeaders } from './forwarded.js';

/** The page for a host without a usable tunnel; a tunnel registered anew since is retried (503). */
export function pageForMissing(route: Route, host: string): Page {
  if (route.kind === 'unknown') return pages.unknownHost(host);
  if (route.kind === 'gone') return pages.gone(host, route.since);
  return pages.connecting(host);
}

/** Where a host's requests go: the dashboard's pseudo-tunnel, or the registry's route (HTTP/1.1 and HTTP/2 alike). */
export function routeOf(host: string, options: Pick<ProxyOptions, 'registry' | 'dashboard'>): Route {
  return host === options.dashboard?.host ? { kind: 'tunnel', tunnel: options.dashboard.tunnel } : options.registry.route(host);
}

export interface ProxyOptions {
  registry: Registry;
  metrics: Metrics;
  log: Logger;
  shares: ShareLinks;
  maxHeaderBytes: number;
  /** HTTP/2: concurrent streams on one client connection (h2.ts). */
  maxStreamsPerConnection: number;
  idleTimeoutMs: number;
  headTimeoutMs: number;
  /** A request body slower than this on average over a head-timeout window closes the connection (0: never). */
  minBodyBytesPerSecond: number;
  /**
   * Set on the plain HTTP listener when TLS is on: every request is redirected to this https URL
   * of its host, or answered 404 when the host is not under the base domain (no open redirect).
   */
  httpsUrlFor?: (hostname: string) => string | undefined;
  /** The dashboard's host and the (public) pseudo-tunnel that reaches it: dashboard/server.ts. */
  dashboard?: { host: string; tunnel: Tunnel };
  /**
   * With --redis: for a hostname this node holds no tunnel for, the node that does (reached over
   * a hop, cluster/hop.ts), or what the cluster knows of it.
   */
  elsewhere?: (hostname: string, here: Route) => Promise<Remote | Route>;
}

/** The client as the proxy sees it; a hop from another node brings the one that node saw. */
export interface Visitor {
  scheme: 'http' | 'https';
  address: string;
  port: number;
}

/** The client of a socket accepted here. */
export const visitorOf = (socket: Socket, scheme: 'http' | 'https'): Visitor => ({ scheme, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 });

/** Takes over a socket that speaks HTTP/2, from this visitor (h2.ts). */
export type H2Acceptor = (socket: Socket, visitor: Visitor) => void;

/** An open hop to the node holding a tunnel, used once: one of its two ways. */
export interface Hop {
  /** Carries an HTTP/1.1 client connection, with the bytes it sent so far. */
  carry(socket: Socket, first: Buffer, visitor: Visitor): void;
  /** The hop's socket, for an HTTP/2 client session to that node carrying this visitor's streams. */
  h2(visitor: Visitor): Socket;
}

/** Another node holds the hostname: `node` names it, `dial` opens a hop to it (undefined when it cannot be reached). */
export interface Remote {
  kind: 'node';
  node: string;
  dial(): Promise<Hop | undefined>;
}

/** What a node that could not be reached is answered as. */
export const unreachable = (): Route => ({ kind: 'gone', since: Date.now() });

/** An absolute-form target (`GET http://host/path`) as origin-form, when its authority is the Host; else undefined. */
function originForm(target: string, host: string): string | undefined {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || hostFromHeader(url.host) !== host) return undefined;
  return `${url.pathname}${url.search}`;
}

const CRLF2 = Buffer.from('\r\n\r\n');

type State = 'head' | 'body' | 'chunked' | 'raw' | 'closed';

export class ProxyConnection {
  private state: State = 'head';
  private buf: Buffer | null = null;
  /** Async steps in flight (token check, channel open, unbind); they nest, so count them. */
  private pending = 0;
  /** An upgrade request was sent and its answer has not started yet. */
  private held = false;
  private clientEnded = false;
  private bodyLeft = 0;
  private framer: ChunkedFramer | null = null;
  private channel: Duplex | null = null;
  private tunnel: Tunnel | null = null;
  private channelClosed: (() => void) | null = null;
  private headTimer: NodeJS.Timeout | null = null;
  /** Request body bytes seen in the current rate window, and whether reading stalled on our side in it. */
  private bodyBytes = 0;
  private bodyStalled = false;
  private bodyTimer: NodeJS.Timeout | null = null;
  private waitingDrain = false;
  private readonly access = new AccessCache();
  /** The owner of the tunnel the last request head was routed to (its env counts the request and a 5xx page). */
  private routed: TunnelOwner | null = null;
  /** The client: this socket's, or the one a hop from another node brings. */
  private readonly visitor: Visitor;

  constructor(
    private readonly socket: Socket,
    private readonly scheme: 'http' | 'https',
    private readonly options: ProxyOptions,
    /** Takes the socket over when it opens with the HTTP/2 preface (prior knowledge, on the plain port). */
    private readonly h2?: H2Acceptor,
    visitor?: Visitor,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000); // notices a vanished peer of a quiet WebSocket
    this.visitor = visitor ?? visitorOf(socket, scheme);
    // Silence closes a connection only while no channel is bound: a request may wait as long as
    // its service takes (no per-request time limit), and the service's own keep-alive timeout
    // ends a bound connection that went idle.
    socket.setTimeout(options.idleTimeoutMs, this.onIdle);
    // The head timer runs from the accept: a connection that never completes a head (or never
    // sends a byte, like an idle slowloris) holds a slot only that long.
    this.headTimer = setTimeout(() => this.headTimedOut(), options.headTimeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private readonly onIdle = () => {
    if (this.channel) this.socket.setTimeout(this.options.idleTimeoutMs);
    else this.socket.destroy();
  };

  private readonly onEnd = () => {
    this.clientEnded = true;
    this.maybeEnd();
  };

  private readonly onError = () => this.socket.destroy();

  private readonly onClose = () => {
    this.state = 'closed';
    if (this.headTimer) clearTimeout(this.headTimer);
    if (this.bodyTimer) clearInterval(this.bodyTimer);
    this.channel?.destroy();
  };

  /** The first bytes are HTTP/2's preface: the socket goes to the HTTP/2 side with them put back. */
  private handOff(chunk: Buffer, h2: H2Acceptor): void {
    this.state = 'closed';
    if (this.headTimer) clearTimeout(this.headTimer);
    const socket = this.socket;
    socket.off('data', this.onData).off('end', this.onEnd).off('error', this.onError).off('close', this.onClose);
    socket.setTimeout(0, this.onIdle);
    socket.pause(); // flowing, the bytes put back would be emitted again at once, to no listener
    socket.unshift(chunk);
    h2(socket, this.visitor);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'closed') return;
    // "PRI * HTTP/2.0": a method HTTP/1.1 reserves for exactly this (RFC 9113 3.4).
    if (this.h2 && this.socket.bytesRead === chunk.length && chunk.toString('latin1', 0, 4) === 'PRI ') return this.handOff(chunk, this.h2);
    if (this.state === 'raw' && !this.busy && !this.held && !this.buf) return this.send(chunk);
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.pump();
  };

  /** Consumes buffered bytes until it needs more, or waits on something async. */
  private pump(): void {
    try {
      while (this.buf && !this.busy && !this.held && this.state !== 'closed') {
        const buf = this.buf;
        if (this.state === 'head') {
          let start = 0;
          while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2; // stray CRLF between requests
          const end = buf.indexOf(CRLF2, start);
          if (end < 0 || end + 4 - start > this.options.maxHeaderBytes) {
            if (buf.length - start > this.options.maxHeaderBytes) return this.respond(pages.badRequest(431, `the request head is larger than ${this.options.maxHeaderBytes} bytes`));
            this.buf = start < buf.length ? buf.subarray(start) : null;
            if (!this.headTimer && this.buf) this.headTimer = setTimeout(() => this.headTimedOut(), this.options.headTimeoutMs);
            return;
          }
          if (this.headTimer) {
            clearTimeout(this.headTimer);
            this.headTimer = null;
          }
          this.buf = end + 4 < buf.length ? buf.subarray(end + 4) : null;
          this.onHead(parseHead(buf.subarray(start, end + 4)));
        } else if (this.state === 'body') {
          const n = Math.min(this.bodyLeft, buf.length);
          this.buf = n < buf.length ? buf.subarray(n) : null;
          this.bodyLeft -= n;
          this.bodyBytes += n;
          if (this.bodyLeft === 0) this.state = 'head';
          this.send(n < buf.length ? buf.subarray(0, n) : buf);
        } else if (this.state === 'chunked') {
          const { used, done } = this.framer!.push(buf);
          this.bodyBytes += used;
          this.buf = used < buf.length ? buf.subarray(used) : null;
          if (done) this.state = 'head';
          this.send(used < buf.length ? buf.subarray(0, used) : buf);
        } else {
          this.buf = null;
          this.send(buf);
        }
      }
    } catch (error) {
      if (error instanceof HeadError) return this.respond(pages.badRequest(error.status, error.message));
      throw error;
    }
    this.maybeEnd();
  }

  private onHead(head: RequestHead): void {
    this.options.metrics.requests.inc();
    const host = hostFromHeader(head.host);
    if (!host) return this.respond(pages.badRequest(400, 'the request has no Host header'));
    if (head.method === 'CONNECT') return this.respond(pages.badRequest(405, 'CONNECT is not proxied'));
    if (!head.target.startsWith('/') && !(head.target === '*' && head.method === 'OPTIONS')) {
      // The app would route on the target's authority, prevu on Host: they must be one.
      const path = originForm(head.target, host);
      if (path === undefined) return this.respond(pages.badRequest(400, 'the request target is neither a path nor a URL of the Host'));
      head.target = path;
    }
    // With TLS on, plain HTTP only points to https: a private env's token or page never goes in clear.
    if (this.options.httpsUrlFor) {
      const secure = this.options.httpsUrlFor(host);
      return secure ? this.finish(renderRedirect(`${secure}${head.target === '*' ? '/' : head.target}`, {}, 308)) : this.respond(pages.unknownHost(host), head);
    }
    const route = routeOf(host, this.options);
    const elsewhere = this.options.elsewhere;
    if (route.kind !== 'tunnel' && elsewhere) return this.wait(elsewhere(host, route).then((found) => (found.kind === 'node' ? this.handOver(found, head, host) : this.respond(pageForMissing(found, host), head))));
    if (route.kind !== 'tunnel') return this.respond(pageForMissing(route, host), head);
    const tunnel = route.tunnel;
    this.routed = tunnel.owner;
    this.options.metrics.envRates.request(tunnel.owner.key, tunnel.owner.envId);
    if (isLogin(head.target)) return this.wait(this.login(head, tunnel));
    if (head.upgrade && tunnel.service === AGENT_SERVICE && !this.sameOrigin(head, host)) {
      // A page elsewhere (a sibling tenant's app is same-site) must not open the agent's event stream with the user's cookie.
      return this.respond(pages.badRequest(403, 'a WebSocket to the agent is only opened from its own origin'), head);
    }
    if (!tunnel.private) return this.dispatch(head, tunnel);
    const refusal = checkAccess(head.headers, tunnel, this.access, this.options.shares);
    if (!(refusal instanceof Promise)) return refusal ? this.respond(refusal, head) : this.dispatch(head, tunnel);
    this.wait(refusal.then((page) => (page ? this.respond(page, head) : this.dispatch(head, tunnel))));
  }

  /**
   * Another node holds the tunnel: from here this connection's bytes are the hop's, and that node's
   * proxy parses them (this head first) as its own client's, with its own timeouts.
   */
  private async handOver(remote: Remote, head: RequestHead, host: string): Promise<void> {
    const hop = await remote.dial();
    if (!hop) return this.respond(pageForMissing(unreachable(), host), head);
    this.state = 'closed';
    if (this.headTimer) clearTimeout(this.headTimer);
    this.socket.off('data', this.onData).off('end', this.onEnd).setTimeout(0);
    const first = serializeHead(head, head.headers);
    hop.carry(this.socket, this.buf ? Buffer.concat([first, this.buf]) : first, this.visitor);
    this.buf = null;
  }

  /** No Origin (not a browser) or the origin of this very host. */
  private sameOrigin(head: RequestHead, host: string): boolean {
    const origins = head.headers.filter(([name]) => name.toLowerCase() === 'origin').map(([, value]) => value);
    if (origins.length === 0) return true;
    if (origins.length > 1) return false;
    try {
      const origin = new URL(origins[0]!);
      return origin.protocol === `${this.scheme}:` && hostFromHeader(origin.host) === host && origin.host === (head.host ?? '').toLowerCase();
    } catch {
      return false;
    }
  }

  private get busy(): boolean {
    return this.pending > 0;
  }

  /** Pauses parsing (and reading) until the promise settles, then resumes. */
  private wait(work: Promise<unknown>): void {
    this.pending++;
    this.socket.pause();
    work
      .catch((error: Error) => this.respond(pages.clientGone(this.tunnel?.service ?? 'service', error.message)))
      .finally(() => {
        this.pending--;
        if (this.busy || this.state === 'closed') return;
        if (!this.waitingDrain && !this.held) this.socket.resume();
        this.pump();
      });
  }

  private dispatch(head: RequestHead, tunnel: Tunnel): void {
    // what keeps an env awake: a request to its services (the agent's own API, polled by the CLI, does not)
    if (tunnel.service !== AGENT_SERVICE) this.options.registry.touch(tunnel.owner.key, tunnel.owner.envId);
    if (this.channel && this.tunnel === tunnel) return this.forward(head);
    // First request, or this connection now asks another (or a re-registered) tunnel.
    this.wait(
      (async () => {
        await this.unbind();
        let channel: Duplex;
        try {
          channel = await tunnel.owner.openChannel(tunnel, this.visitor);
        } catch (error) {
          const reason = (error as Error).message;
          if (error instanceof ChannelLimitError) return this.respond(pages.busy(tunnel.service, reason), head);
          // The route may have changed while the channel was opening: a forward cancelled in that
          // moment is an unknown address (404), not a tunnel that went away.
          const now = this.options.registry.route(tunnel.hostname);
          return this.respond(now.kind === 'tunnel' && now.tunnel === tunnel ? pages.serviceRefused(tunnel.service, reason) : pageForMissing(now, tunnel.hostname), head);
        }
        if (this.state === 'closed') return void channel.destroy();
        this.bind(channel, tunnel);
        this.forward(head);
      })(),
    );
  }

  private bind(channel: Duplex, tunnel: Tunnel): void {
    this.channel = channel;
    this.tunnel = tunnel;
    let answered = false;
    let status = '';
    channel.on('data', (chunk: Buffer) => {
      answered = true;
      if (this.held) {
        status += chunk.toString('latin1', 0, 12);
        if (status.length >= 12 || status.includes('\n')) {
          this.release(/^HTTP\/1\.[01] 101/.test(status));
          status = '';
        }
      }
      if (!this.socket.write(chunk)) {
        channel.pause();
        this.socket.once('drain', () => channel.resume());
      }
    });
    channel.on('error', (error: Error) => this.options.log.debug({ err: error.message }, 'channel error'));
    const closed = () => {
      if (this.channel !== channel) return;
      this.channel = null;
      this.tunnel = null;
      // The client only half-closes (EOF) when its service closes: close our side too, or the
      // channel stays open on both ends for the life of the SSH connection.
      channel.destroy();
      const waiter = this.channelClosed;
      this.channelClosed = null;
      if (waiter) waiter();
      else if (this.state === 'closed') return;
      // A client that accepts the channel and then cannot reach the service closes it silently.
      else if (!answered) this.respond(pages.clientGone(tunnel.service, 'the service closed the connection without answering'));
      else this.socket.end(); // the service closed: so do we
    };
    channel.on('end', closed);
    channel.on('close', closed);
  }

  /** Lets the bound channel finish its responses (bounded by the idle timeout), then forgets it. */
  private unbind(): Promise<void> {
    const channel = this.channel;
    if (!channel) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => channel.destroy(), this.options.idleTimeoutMs);
      this.channelClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      channel.end();
    });
  }

  private forward(head: RequestHead): void {
    const headers = forwardedHeaders(head.headers, { client: this.visitor.address, scheme: this.scheme, host: head.host ?? '' });
    this.send(serializeHead(head, headers));
    if (head.upgrade && head.body.kind === 'none') {
      this.held = true;
      this.socket.pause();
    } else if (head.body.kind === 'length') {
      this.state = 'body';
      this.bodyLeft = head.body.length;
      this.watchBodyRate();
    } else if (head.body.kind === 'chunked') {
      this.state = 'chunked';
      this.framer = new ChunkedFramer();
      this.watchBodyRate();
    }
  }

  /** Nothing at all arrived: close without a word (a browser's preconnect); a partial head gets 408. */
  private headTimedOut(): void {
    this.headTimer = null;
    if (this.state !== 'head' || this.busy) return;
    if (!this.buf && this.socket.bytesRead === 0) return void this.socket.destroy();
    this.respond(pages.badRequest(408, 'the request head did not arrive in time'));
  }

  /**
   * While a request body arrives, checks once per head-timeout window that it averaged the minimum
   * rate; a window in which we stopped reading (the service was slow to take it) does not count.
   */
  private watchBodyRate(): void {
    const min = this.options.minBodyBytesPerSecond;
    if (!min || this.bodyTimer) return;
    this.bodyBytes = 0;
    this.bodyStalled = false;
    this.bodyTimer = setInterval(() => {
      if (this.state !== 'body' && this.state !== 'chunked') {
        clearInterval(this.bodyTimer!);
        this.bodyTimer = null;
        return;
      }
      const tooSlow = !this.bodyStalled && !this.waitingDrain && !this.busy && this.bodyBytes < (min * this.options.headTimeoutMs) / 1000;
      this.bodyBytes = 0;
      this.bodyStalled = false;
      if (tooSlow) {
        this.options.log.debug({ client: this.visitor.address }, 'request body slower than the minimum rate: closed');
        this.options.metrics.limitRefusals.inc({ limit: 'min_body_rate' });
        this.socket.destroy();
      }
    }, this.options.headTimeoutMs);
  }

  /** The answer to an upgrade request has started: splice on 101, else keep parsing requests. */
  private release(upgraded: boolean): void {
    this.held = false;
    if (upgraded) {
      this.state = 'raw';
    }
    if (!this.waitingDrain && !this.busy) this.socket.resume();
    setImmediate(() => this.pump());
  }

  private send(data: Buffer): void {
    const channel = this.channel;
    if (!channel) return;
    if (!channel.write(data) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.bodyStalled = true;
      this.socket.pause();
      channel.once('drain', () => {
        this.waitingDrain = false;
        if (!this.busy && !this.held && this.state !== 'closed') this.socket.resume();
      });
    }
  }

  private maybeEnd(): void {
    if (!this.clientEnded || this.busy || this.held || this.state === 'closed') return;
    // Parsed as far as it goes: a head cut by the client's EOF can never complete, so it is dropped
    // rather than held until the head timer.
    if (this.buf && this.state !== 'head') return;
    this.buf = null;
    this.clientEnded = false; // act once: half-close the channel (responses still flow back), or close
    if (this.channel) this.channel.end();
    else this.socket.end();
  }

  private async login(head: RequestHead, tunnel: Tunnel): Promise<void> {
    const outcome = await login(head.target, head.headers, tunnel, this.options.shares);
    await this.unbind();
    if ('page' in outcome) return this.respond(outcome.page, head);
    this.finish(renderRedirect(outcome.location, { 'Set-Cookie': outcome.cookie }));
  }

  /** prevu answers (an error page): after any bound channel has finished, then close. */
  private respond(page: Page, head?: RequestHead): void {
    this.options.metrics.errors.inc({ status: page.status });
    if (page.status >= 500 && this.routed) this.options.metrics.envRates.error(this.routed.key, this.routed.envId);
    const bytes = renderPage(page, { head: head?.method === 'HEAD' });
    if (this.channel) {
      this.state = 'closed';
      void this.unbind().then(() => this.finish(bytes));
      return;
    }
    this.finish(bytes);
  }

  private finish(bytes: Buffer): void {
    this.state = 'closed';
    this.buf = null;
    if (this.headTimer) clearTimeout(this.headTimer);
    if (!this.socket.destroyed) this.socket.end(bytes);
  }
}
