// HTTP/2 from clients: ALPN `h2` on the TLS listener, and prior knowledge (the `PRI * HTTP/2.0`
// preface) on the plain port. node:http2 (nghttp2) reads the frames and enforces the protocol's
// own bounds; each stream is then routed by :authority and checked like an HTTP/1.1 request
// (private access, prevu's credentials stripped, X-Forwarded-*, error pages) before it reaches
// its service through the tunnel: as HTTP/2 when the forward says `proto=h2c` (gRPC: one SSH
// channel per client session and tunnel carries all its streams, trailers included), else
// translated to HTTP/1.1 on keep-alive SSH channels (at most CHANNELS_PER_TUNNEL of them per
// session and tunnel; further streams wait for a free one). On a cluster node a stream whose
// hostname lives at another node is re-issued there on an HTTP/2 session over a hop (one per
// client session and node, cluster/hop.ts), whose h2 side serves it as its own client's.
import http from 'node:http';
import http2, { constants, type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { AGENT_SERVICE, hostFromHeader } from '@prevu/core/names';
import { ChannelLimitError, type Tunnel, type TunnelOwner } from '../registry.js';
import { AccessCache, checkAccess, isLogin, login } from './access.js';
import { pages, pageResponse, redirectHeaders, type Page } from './error-pages.js';
import { forwardedHeaders } from './forwarded.js';
import { pageForMissing, routeOf, unreachable, type H2Acceptor, type ProxyOptions, type Remote, type Visitor } from './proxy.js';

/** HTTP/1.1 channels one client session may hold to one tunnel: a browser opens about 6 connections a host over HTTP/1.1. */
const CHANNELS_PER_TUNNEL = 16;

/**
 * Connection-specific headers (RFC 9113 8.2.2) and `host` (HTTP/2 has :authority): never carried
 * from one version to the other. `te: trailers` alone goes on to an HTTP/2 service (gRPC needs it).
 */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

/** What node throws for a request on an upstream session that is going away: nothing was sent. */
const REFUSING_SESSION = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION']);

/** The service side refused or failed to open the channel (as opposed to failing once it was open). */
class ChannelOpenError extends Error {}

type Pairs = Array<[string, string]>;

/** A stream's regular headers as pairs (pseudo-headers left out; node joins repeated cookies with "; "). */
function headerPairs(headers: IncomingHttpHeaders, keep: (name: string, value: string) => boolean): Pairs {
  const out: Pairs = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (keep(name, v)) out.push([name, v]);
  }
  return out;
}

/** The headers carried from one hop to the next: connection-specific ones dropped, `te: trailers` kept when `keepTe` (to HTTP/2). */
const carried = (headers: IncomingHttpHeaders, keepTe: boolean): Pairs => headerPairs(headers, (name, value) => !HOP.has(name) || (keepTe && name === 'te' && value === 'trailers'));

function headerObject(pairs: Pairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const had = out[key];
    out[key] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return out;
}

/**
 * What http.Agent calls on a pooled socket that an SSH channel lacks: it has no TCP keep-alive,
 * no event-loop ref and no idle timer of its own (the SSH connection has them).
 */
const SOCKET_STUBS = { setKeepAlive: () => undefined, ref: () => undefined, unref: () => undefined, setTimeout: () => undefined };

/** An HTTP/1.1 agent whose sockets are SSH channels of one tunnel, kept alive between streams. */
class ChannelAgent extends http.Agent {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly open: () => Promise<Duplex>) {
    super({ keepAlive: true });
  }

  get idle(): boolean {
    return this.active === 0;
  }

  /**
   * Starts a request when fewer than CHANNELS_PER_TUNNEL are in flight, else when one ends: the
   * Agent's own maxSockets does not count sockets still being created, and a channel opens
   * asynchronously. `start` returns nothing when its stream went away while it waited.
   */
  schedule(start: () => http.ClientRequest | undefined): void {
    if (this.active >= CHANNELS_PER_TUNNEL) return void this.waiting.push(() => this.schedule(start));
    this.active++;
    const done = () => {
      this.active--;
      this.waiting.shift()?.();
    };
    const request = start();
    // After 'close' the socket is handed back to the pool: the next request then reuses it.
    if (request) request.once('close', () => setImmediate(done));
    else done();
  }

  override createConnection(_options: unknown, callback?: (error: Error | null, socket: Duplex) => void): undefined {
    this.open().then(
      (channel) => callback?.(null, Object.assign(channel, SOCKET_STUBS)),
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/**
 * Streams a client may cancel before their answer, in a burst, then per second (rapid reset,
 * CVE-2023-44487: each costs the service a request). A browser cancels a few when a page is
 * left. nghttp2 has its own bound (1,000, then 33/s) but only stops taking new streams there,
 * keeping the connection; past this one the session is closed.
 */
const RESET_BURST = 200;
const RESETS_PER_SECOND = 50;

/**
 * Services (and, on a cluster node, other nodes) one client session keeps channels (hops) to.
 * Browsers put every host a certificate covers (all of `*.<base>`) on one connection, so a
 * session may visit many tunnels: past this many, the least recently used one with nothing in
 * flight lets its channels go.
 */
const TUNNELS_PER_SESSION = 8;

/** What a session holds towards one tunnel: an HTTP/1.1 channel pool, or one HTTP/2 session (also towards another node). */
type Upstream = { kind: 'h1'; agent: ChannelAgent } | { kind: 'h2c'; session: Promise<ClientHttp2Session>; active: number };

const idle = (up: Upstream) => (up.kind === 'h1' ? up.agent.idle : up.active === 0);
const release = (up: Upstream) => (up.kind === 'h1' ? up.agent.destroy() : void up.session.then((s) => s.destroy(), () => undefined));

/** One HTTP/2 client session and what it holds towards tunnels. */
class H2Connection {
  private readonly access = new AccessCache();
  /** The tunnel owner each routed stream went to: its env counts the request and a 5xx page, as HTTP/1.1's do. */
  private readonly routed = new WeakMap<ServerHttp2Stream, TunnelOwner>();
  /** By tunnel, or by node id for another node's; least recently used first. */
  private readonly upstreams = new Map<Tunnel | string, Upstream>();
  private streams = 0;
  private resetTokens = RESET_BURST;
  private resetAt = Date.now();

  constructor(
    private readonly session: ServerHttp2Session,
    /** The client: this socket's, or the one a hop from another node brings. */
    private readonly visitor: Visitor,
    private readonly options: ProxyOptions,
  ) {
    // Like HTTP/1.1: a session that never sends a request holds its slot only the head timeout,
    // one with no stream open only the idle timeout; an open stream waits as long as its service.
    const first = setTimeout(() => session.destroy(), options.headTimeoutMs);
    // (setTimeout's own callback fires once: the listener stays for every later timeout.)
    session.setTimeout(options.idleTimeoutMs);
    session.on('timeout', () => {
      if (this.streams === 0) session.destroy();
      else session.setTimeout(options.idleTimeoutMs);
    });
    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => {
      clearTimeout(first);
      this.streams++;
      stream.once('close', () => this.streams--);
      stream.on('error', () => undefined);
      stream.once('aborted', () => this.cancelled());
      this.onStream(stream, headers, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    });
    session.on('error', () => undefined);
    session.once('close', () => {
      clearTimeout(first);
      for (const up of this.upstreams.values()) release(up);
    });
  }

  /** A stream the client reset before its answer ended: counted against the reset bound. */
  private cancelled(): void {
    const now = Date.now();
    this.resetTokens = Math.min(RESET_BURST, this.resetTokens + ((now - this.resetAt) / 1000) * RESETS_PER_SECOND);
    this.resetAt = now;
    if (--this.resetTokens >= 0) return;
    this.options.metrics.limitRefusals.inc({ limit: 'h2_resets' });
    this.session.destroy();
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ended: boolean): void {
    this.options.metrics.requests.inc();
    const method = headers[':method'] ?? '';
    const path = headers[':path'] ?? '';
    const authority = headers[':authority'] ?? headers.host ?? '';
    const host = hostFromHeader(authority);
    if (!host) return this.page(stream, pages.badRequest(400, 'the request has no :authority'), method);
    if (method === 'CONNECT') return this.page(stream, pages.badRequest(405, 'CONNECT is not proxied'), method);
    if (!path.startsWith('/') && !(path === '*' && method === 'OPTIONS')) return this.page(stream, pages.badRequest(400, 'the :path is not a path'), method);
    if (this.options.httpsUrlFor) {
      const secure = this.options.httpsUrlFor(host);
      return secure ? this.redirect(stream, `${secure}${path === '*' ? '/' : path}`, {}, 308) : this.page(stream, pages.unknownHost(host), method);
    }
    const route = routeOf(host, this.options);
    const elsewhere = this.options.elsewhere;
    if (route.kind !== 'tunnel' && elsewhere) {
      void elsewhere(host, route).then((found) => (found.kind === 'node' ? this.toNode(stream, headers, ended, found) : this.page(stream, pageForMissing(found, host), method)));
      return;
    }
    if (route.kind !== 'tunnel') return this.page(stream, pageForMissing(route, host), method);
    const tunnel = route.tunnel;
    // counted as HTTP/1.1 counts it: the env's request rate
    this.options.metrics.envRates.request(tunnel.owner.key, tunnel.owner.envId);
    this.routed.set(stream, tunnel.owner);
    const pairs = headerPairs(headers, () => true);
    if (isLogin(path)) {
      void login(path, pairs, tunnel, this.options.shares).then((outcome) =>
        'page' in outcome ? this.page(stream, outcome.page, method) : this.redirect(stream, outcome.location, { 'Set-Cookie': outcome.cookie }, 302),
      );
      return;
    }
    const go = () => {
      // the env's last request (its idle sleep) counts only requests let in, as HTTP/1.1's dispatch does
      if (tunnel.service !== AGENT_SERVICE) this.options.registry.touch(tunnel.owner.key, tunnel.owner.envId);
      return tunnel.h2c ? this.toH2c(stream, headers, ended, tunnel) : this.toH1(stream, headers, ended, tunnel);
    };
    if (!tunnel.private) return go();
    const refusal = checkAccess(pairs, tunnel, this.access, this.options.shares);
    if (!(refusal instanceof Promise)) return refusal ? this.page(stream, refusal, method) : go();
    void refusal.then((page) => (page ? this.page(stream, page, method) : go()));
  }

  /** The stream's headers as its service sees them (the same rule as HTTP/1.1's, forwarded.ts). */
  private forwarded(headers: IncomingHttpHeaders, keepTe: boolean): Pairs {
    return forwardedHeaders(carried(headers, keepTe), { client: this.visitor.address, scheme: this.visitor.scheme, host: headers[':authority'] ?? headers.host ?? '' });
  }

  private openChannel(tunnel: Tunnel): Promise<Duplex> {
    return tunnel.owner.openChannel(tunnel, this.visitor).catch((error: Error) => {
      throw error instanceof ChannelLimitError ? error : new ChannelOpenError(error.message);
    });
  }

  /** HTTP/2 in front, HTTP/1.1 behind: node's client writes the request, the response comes back as HTTP/2. */
  private toH1(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ended: boolean, tunnel: Tunnel): void {
    const up = this.upstream(tunnel, () => ({ kind: 'h1', agent: new ChannelAgent(() => this.openChannel(tunnel)) }));
    if (up.kind !== 'h1') return;
    const agent = up.agent;
    const method = headers[':method']!;
    const out: Pairs = [['Host', headers[':authority'] ?? headers.host ?? ''], ...this.forwarded(headers, false)];
    // A body of unknown length is framed (chunked): unframed bytes would be read as the next request.
    if (!ended && headers['content-length'] === undefined) out.push(['Transfer-Encoding', 'chunked']);
    agent.schedule(() => {
      if (stream.destroyed) return undefined;
      const request = attempt(() => http.request({ agent, method, path: headers[':path'], headers: out.flat(), setHost: false }));
      if (request instanceof Error) return void this.page(stream, pages.badRequest(400, `a header HTTP/1.1 cannot carry (${request.message})`), method);
      request.on('response', (response) => {
        if (stream.destroyed) return void response.destroy();
        const listed = new Set((response.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()));
        const answer: Record<string, string | string[] | number> = { ':status': response.statusCode ?? 502 };
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined && !HOP.has(name) && !listed.has(name)) answer[name] = value;
        const empty = method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304;
        const sent = attempt(() => stream.respond(answer, { endStream: empty }));
        if (sent instanceof Error) {
          response.destroy();
          return this.failed(stream, method, this.tunnelPage(tunnel), new Error(`the service answered with a header HTTP/2 cannot carry (${sent.message})`));
        }
        if (empty) return void response.resume();
        response.pipe(stream);
      });
      request.on('error', (error) => this.failed(stream, method, this.tunnelPage(tunnel), error));
      stream.once('close', () => {
        if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) request.destroy();
      });
      if (ended) request.end();
      else this.pipeBody(stream, request);
      return request;
    });
  }

  /** HTTP/2 both sides: streams, flow control and trailers (gRPC's status) pass one to one. */
  private toH2c(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ended: boolean, tunnel: Tunnel): void {
    const authority = headers[':authority'] ?? headers.host ?? '';
    const up = this.upstream(tunnel, () => ({ kind: 'h2c', session: this.connectH2(tunnel, () => this.openChannel(tunnel), authority), active: 0 }));
    this.relay(stream, headers, this.forwarded(headers, true), ended, up, this.tunnelPage(tunnel));
  }

  /**
   * Another node holds the hostname: the stream goes on as the client sent it (that node adds
   * X-Forwarded-* and checks access, limits and login, as for its own clients).
   */
  private toNode(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ended: boolean, remote: Remote): void {
    const authority = headers[':authority'] ?? headers.host ?? '';
    const open = async () => {
      const hop = await remote.dial();
      if (!hop) throw new Error(`node ${remote.node} unreachable`);
      return hop.h2(this.visitor);
    };
    const up = this.upstream(remote.node, () => ({ kind: 'h2c', session: this.connectH2(remote.node, open, authority), active: 0 }));
    // Unreachable, or gone before it answered: as HTTP/1.1 answers a hop that cannot be dialled.
    const page = () => pageForMissing(unreachable(), hostFromHeader(authority)!);
    this.relay(stream, headers, carried(headers, true), ended, up, page);
  }

  /** Re-issues a stream on an upstream HTTP/2 session and relays its answer back; `pageFor` a failure before the answer. */
  private relay(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, out: Pairs, ended: boolean, up: Upstream, pageFor: (error: Error) => Page): void {
    const method = headers[':method']!;
    if (up.kind !== 'h2c') return;
    up.active++;
    stream.once('close', () => up.active--);
    up.session.then(
      (session) => {
        if (stream.destroyed) return;
        const request = attempt(() =>
          session.request({ ':method': method, ':path': headers[':path'], ':authority': headers[':authority'] ?? headers.host ?? '', ':scheme': 'http', ...headerObject(out) }, { endStream: ended }),
        );
        // Refused by the service before it read anything (it said GOAWAY, e.g. a gRPC server's max
        // connection age): the client is told REFUSED_STREAM, which clients retry on their own
        // (RFC 9113 8.7), and the retry gets a new session (connectH2 forgot this one).
        const refuse = () => !stream.destroyed && !stream.headersSent && stream.close(constants.NGHTTP2_REFUSED_STREAM);
        if (request instanceof Error) return REFUSING_SESSION.has((request as NodeJS.ErrnoException).code ?? '') ? refuse() : this.failed(stream, method, pageFor, request);
        let trailers: IncomingHttpHeaders | undefined;
        request.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
        stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? {}));
        request.on('response', (answer, flags) => {
          if (stream.destroyed) return;
          const only = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0; // trailers-only (a gRPC error)
          const sent = attempt(() => stream.respond(answer, only ? { endStream: true } : { waitForTrailers: true }));
          if (sent instanceof Error) {
            request.close(constants.NGHTTP2_CANCEL);
            return this.failed(stream, method, pageFor, new Error(`the service answered with a header HTTP/2 cannot carry (${sent.message})`));
          }
          if (!only) request.pipe(stream);
        });
        request.on('error', (error) => (request.rstCode === constants.NGHTTP2_REFUSED_STREAM ? refuse() : this.failed(stream, method, pageFor, error)));
        request.once('close', () => {
          if (request.rstCode === constants.NGHTTP2_REFUSED_STREAM) refuse();
          else if (!stream.destroyed && !stream.headersSent) this.failed(stream, method, pageFor, new Error('the service closed the stream without answering'));
          else if (!stream.destroyed && request.rstCode !== undefined && request.rstCode !== constants.NGHTTP2_NO_ERROR) stream.close(request.rstCode);
        });
        stream.once('close', () => {
          if (!request.destroyed) request.close(stream.rstCode === constants.NGHTTP2_NO_ERROR ? constants.NGHTTP2_NO_ERROR : constants.NGHTTP2_CANCEL);
        });
        if (!ended) this.pipeBody(stream, request);
      },
      (error: Error) => this.failed(stream, method, pageFor, error),
    );
  }

  /**
   * Sends the request body on, and cancels the stream when it averages less than
   * --min-body-bytes-per-second over a head-timeout window, as HTTP/1.1 does; a window in which
   * the service was slow to take it (the pipe paused, so flow control held the client) does not count.
   */
  private pipeBody(stream: ServerHttp2Stream, request: NodeJS.WritableStream): void {
    stream.pipe(request);
    const min = this.options.minBodyBytesPerSecond;
    if (!min) return;
    let bytes = 0;
    let stalled = false;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('pause', () => (stalled = true));
    const timer = setInterval(() => {
      const tooSlow = !stalled && stream.readableFlowing !== false && bytes < (min * this.options.headTimeoutMs) / 1000;
      bytes = 0;
      stalled = false;
      if (!tooSlow) return;
      this.options.metrics.limitRefusals.inc({ limit: 'min_body_rate' });
      stream.close(constants.NGHTTP2_CANCEL);
    }, this.options.headTimeoutMs);
    const stop = () => clearInterval(timer);
    stream.once('end', stop);
    stream.once('close', stop);
  }

  /** The session's way to a tunnel or node (made by `make` on first use, marked most recently used), within TUNNELS_PER_SESSION. */
  private upstream(key: Tunnel | string, make: () => Upstream): Upstream {
    let up = this.upstreams.get(key);
    if (up) this.upstreams.delete(key);
    else up = make();
    this.upstreams.set(key, up);
    if (this.upstreams.size > TUNNELS_PER_SESSION) {
      for (const [other, held] of this.upstreams) {
        if (other === key || !idle(held)) continue;
        release(held);
        this.upstreams.delete(other);
        break;
      }
    }
    return up;
  }

  /** One HTTP/2 session per client session and tunnel (over one SSH channel) or node (over one hop). */
  private connectH2(key: Tunnel | string, open: () => Promise<Duplex>, authority: string): Promise<ClientHttp2Session> {
    const forget = () => {
      const up = this.upstreams.get(key);
      if (up?.kind === 'h2c' && up.session === session) this.upstreams.delete(key);
    };
    const session: Promise<ClientHttp2Session> = open().then((socket) => {
      const client = http2.connect(`http://${authority}`, { createConnection: () => socket, settings: { enablePush: false } });
      client.on('error', () => undefined);
      // A service that says GOAWAY (a gRPC server's max connection age, a restart) takes no new
      // streams: the next one opens a new session.
      client.once('goaway', forget);
      client.once('close', forget);
      if (this.session.destroyed) client.destroy();
      return client;
    });
    session.catch(forget);
    return session;
  }

  /** What a tunnel's failure is answered with. */
  private tunnelPage(tunnel: Tunnel): (error: Error) => Page {
    return (error) => {
      if (error instanceof ChannelLimitError) return pages.busy(tunnel.service, error.message);
      if (error instanceof ChannelOpenError) {
        // The route may have changed while the channel was opening (as in proxy.ts).
        const now = this.options.registry.route(tunnel.hostname);
        return now.kind === 'tunnel' && now.tunnel === tunnel ? pages.serviceRefused(tunnel.service, error.message) : pageForMissing(now, tunnel.hostname);
      }
      return pages.clientGone(tunnel.service, error.message);
    };
  }

  /** The far side could not be reached or failed: a page when nothing was answered yet, else the stream is reset. */
  private failed(stream: ServerHttp2Stream, method: string, pageFor: (error: Error) => Page, error: Error): void {
    if (stream.destroyed) return;
    if (stream.headersSent) return void stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    this.page(stream, pageFor(error), method);
  }

  private page(stream: ServerHttp2Stream, page: Page, method: string): void {
    this.options.metrics.errors.inc({ status: page.status });
    const owner = this.routed.get(stream);
    if (page.status >= 500 && owner) this.options.metrics.envRates.error(owner.key, owner.envId);
    if (stream.destroyed || stream.headersSent) return;
    const { status, headers, body } = pageResponse(page);
    const head = method === 'HEAD';
    stream.respond({ ':status': status, ...lowerKeys(headers) }, { endStream: head });
    if (!head) stream.end(body);
  }

  private redirect(stream: ServerHttp2Stream, location: string, headers: Record<string, string>, status: 302 | 308): void {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': status, ...lowerKeys(redirectHeaders(location, headers)) }, { endStream: true });
  }
}

/**
 * Node throws where it will not write: headers it refuses, a request on an upstream session that
 * is closing. The caller answers with a page instead of the process dying.
 */
function attempt<T>(fn: () => T): T | Error {
  try {
    return fn();
  } catch (error) {
    return error as Error;
  }
}

const lowerKeys = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

/**
 * The HTTP/2 side of one listener: `accept(socket, visitor)` takes a socket that speaks HTTP/2 (TLS with
 * ALPN h2, or plain with the preface already read back into it). nghttp2 bounds what a client
 * can make it hold: concurrent streams (more are refused, and past 100 refusals the session is
 * closed), the header list (the same budget as an HTTP/1.1 head), CONTINUATION frames per header
 * block, SETTINGS entries, pings and unanswered control frames, invalid frames and memory; the
 * rate of cancelled streams is bounded here (RESET_BURST).
 */
export function createH2Acceptor(options: ProxyOptions): H2Acceptor {
  const server = http2.createServer({
    settings: { maxConcurrentStreams: options.maxStreamsPerConnection, maxHeaderListSize: options.maxHeaderBytes, enablePush: false },
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
    maxSessionMemory: 10,
  });
  // node emits 'session' from within emit('connection'): `arriving` is that socket's visitor.
  let arriving: Visitor | undefined;
  server.on('session', (session: ServerHttp2Session) => new H2Connection(session, arriving!, options));
  return (socket, visitor) => {
    // The listeners allow half-open for HTTP/1.1 (a request sent, then FIN, still gets its answer);
    // an HTTP/2 client never half-closes, and one that does is gone: its EOF ends the session.
    socket.allowHalfOpen = false;
    arriving = visitor;
    server.emit('connection', socket);
    arriving = undefined;
  };
}
