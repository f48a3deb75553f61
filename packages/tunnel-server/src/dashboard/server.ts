// The dashboard (`https://dash.<base>/`): a small HTTP server on a unix socket in the state dir,
// reached only through the proxy, which routes the dashboard's host to it as to a tunnel (so TLS,
// connection limits, X-Forwarded-* and WebSocket splicing are the proxy's, unchanged). It shows
// one account's envs (the key of the session: sessions.ts), their URLs and health, live events
// (a WebSocket fed by the env agent's /events), log tails, and the env's share links.
// Every page: no framing (CSP frame-ancestors 'none', X-Frame-Options), no inline script, no
// referrer to other origins (the login link carries a token). Every mutation: POST from the dashboard's own
// origin with the session's CSRF token; a sibling tenant's app is same-site, so SameSite alone
// would not do.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { DASHBOARD_LABEL } from '@prevu/core/names';
import type { LifecycleRow, ServiceRow } from '@prevu/core/agent-protocol';
import type { Counters } from '../counters.js';
import type { EnvRates } from '../env-rates.js';
import type { Registry, Tunnel, TunnelOwner } from '../registry.js';
import type { ShareLinks } from '../share-links.js';
import { RegistrationError } from '../share-links.js';
import type { PublicUrls } from '../ssh/exec.js';
import { agentGet, agentTunnel, agentText } from './agent.js';
import { SCRIPT, STYLE } from './assets.js';
import { envPage, listPage, loginPage, logsPage, messagePage, shareMadePage, type EnvView } from './pages.js';
import { DashboardSessions, sessionCookie, type DashboardSession } from './sessions.js';

const SOCKET_FILE = 'dashboard.sock';
const MAX_FORM = 4096;
const LOG_TAIL = 200;
/** Envs whose agent is asked for health on the list page (the rest show '-'). */
const MAX_ENVS_ASKED = 20;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // no referrer leaves the origin (the login link carries a token); same-origin still gets one, and
  // with it a real Origin on POSTs (under no-referrer browsers send `Origin: null`)
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

const servicesSchema = z.array(z.object({ service: z.string(), state: z.string(), health: z.string(), cause: z.string().optional() }));
const lifecycleSchema = z.object({ state: z.string(), expiresAt: z.string().nullable(), pinned: z.boolean() });
const shareFormSchema = z.object({ service: z.string().max(63), ttl: z.coerce.number().int().min(1).max(168) });

export interface DashboardOptions {
  registry: Registry;
  shares: ShareLinks;
  /** Where a login token's one use is remembered: cluster-wide with --redis. */
  counters: Counters;
  rates: EnvRates;
  log: Logger;
  stateDir: string;
  baseDomain: string;
  /** The public URLs, known once the listeners are bound. */
  urls: () => PublicUrls;
}

export class Dashboard {
  /** `dash.<base>`: the proxy routes it here. */
  readonly host: string;
  /** What the proxy dispatches the dashboard's host to: a public pseudo-tunnel whose channels are connections to the socket. */
  readonly tunnel: Tunnel;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  private readonly sessions: DashboardSessions;
  private readonly socketPath: string;

  constructor(private readonly options: DashboardOptions) {
    this.host = `${DASHBOARD_LABEL}.${options.baseDomain}`;
    this.sessions = new DashboardSessions(options.registry, options.counters);
    this.socketPath = join(options.stateDir, SOCKET_FILE);
    this.server = createServer((req, res) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
      this.route(req, res).catch((error: Error) => {
        options.log.warn({ err: error.message, path: req.url }, 'dashboard request failed');
        if (!res.headersSent) this.html(res, 500, messagePage('Something went wrong', 'The dashboard could not answer this request; try again.'));
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    const owner: TunnelOwner = {
      id: 0,
      accountId: '',
      key: '',
      envId: '',
      keyBlob: Buffer.alloc(0),
      refused: new Map(),
      openChannel: () =>
        new Promise<Duplex>((resolve, reject) => {
          const socket = connect({ path: this.socketPath });
          socket.once('connect', () => resolve(socket)).once('error', reject);
        }),
      lost: () => undefined,
    };
    this.tunnel = { hostname: this.host, name: DASHBOARD_LABEL, service: DASHBOARD_LABEL, private: false, h2c: false, owner, bind: { kind: 'streamlocal', path: this.socketPath } };
  }

  listen(): Promise<void> {
    rmSync(this.socketPath, { force: true }); // a socket file left by a server that was killed
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    this.wss.close();
  }

  private get origin(): string {
    return this.options.urls().urlFor(this.host);
  }

  /** The browser's address as the proxy saw it (only the proxy reaches this socket). */
  private visitor(req: IncomingMessage): string {
    return String(req.headers['x-forwarded-for'] ?? 'dashboard');
  }

  private html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  }

  private redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
    res.writeHead(303, { location, ...headers });
    res.end();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/assets/dashboard.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(SCRIPT);
    if (req.method === 'GET' && path === '/assets/dashboard.css') return void res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' }).end(STYLE);
    if (req.method === 'GET' && path === '/login') {
      const result = await this.sessions.login(url.searchParams.get('token') ?? '');
      if ('refused' in result) return this.html(res, 401, loginPage(result.refused));
      this.options.log.info({ accountId: result.session.accountId }, 'dashboard login');
      return this.redirect(res, '/', { 'set-cookie': sessionCookie(result.session) });
    }
    const session = this.sessions.find(req.headers.cookie);
    if (!session) return this.html(res, req.method === 'GET' && path === '/' ? 200 : 401, loginPage());
    if (req.method === 'POST') return this.mutate(req, res, session, path);
    if (req.method !== 'GET') return this.html(res, 405, messagePage('Not allowed', 'The dashboard answers GET and POST only.'));
    if (path === '/') return this.html(res, 200, listPage(await this.envViews(session, req), session.csrf));
    const env = /^\/env\/([^/]+)(?:\/logs\/([^/]+))?$/.exec(path);
    const envId = env && this.envOf(session, decodeURIComponent(env[1]!));
    if (!envId) return this.html(res, 404, messagePage('Not found', 'No such environment of this account is connected.'));
    if (env[2] !== undefined) return this.logs(req, res, session, envId, decodeURIComponent(env[2]), url.searchParams.get('format') === 'text');
    const [view] = await this.envViews(session, req, [envId]);
    const shares = (await this.options.shares.list(session.key)).filter((s) => s.envId === envId);
    return this.html(res, 200, envPage(view!, shares, session.csrf));
  }

  /** The env id when it is one of the session key's connected envs (never another account's). */
  private envOf(session: DashboardSession, envId: string): string | undefined {
    return this.options.registry.envsOf(session.key).includes(envId) ? envId : undefined;
  }

  private async envViews(session: DashboardSession, req: IncomingMessage, only?: string[]): Promise<EnvView[]> {
    const { registry } = this.options;
    const envIds = only ?? registry.envsOf(session.key);
    return Promise.all(
      envIds.map(async (envId, i) => {
        const urls = registry
          .forEnv(session.key, envId)
          .filter((t) => agentTunnel(registry, session.key, envId) !== t)
          .map((t) => ({ service: t.service, url: this.options.urls().urlFor(t.hostname), private: t.private }));
        const rate = this.options.rates.of(session.key, envId);
        if (i >= MAX_ENVS_ASKED) return { envId, urls, rate };
        const [services, lifecycle] = await Promise.all([
          this.agentJson(session, envId, '/services', servicesSchema, req),
          this.agentJson(session, envId, '/lifecycle', lifecycleSchema, req),
        ]);
        return {
          envId,
          urls,
          rate,
          ...(services ? { services: services as Array<Pick<ServiceRow, 'service' | 'state' | 'health' | 'cause'>> } : {}),
          ...(lifecycle ? { lifecycle: lifecycle as Pick<LifecycleRow, 'state' | 'expiresAt' | 'pinned'> } : {}),
        };
      }),
    );
  }

  private async agentJson<T>(session: DashboardSession, envId: string, path: string, schema: z.ZodType<T>, req: IncomingMessage): Promise<T | undefined> {
    const answer = await agentText(this.options.registry, session.key, envId, path, this.visitor(req));
    if (answer?.status !== 200) return undefined;
    try {
      const parsed = schema.safeParse(JSON.parse(answer.body));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private async logs(req: IncomingMessage, res: ServerResponse, session: DashboardSession, envId: string, service: string, asText: boolean): Promise<void> {
    const answer = await agentText(this.options.registry, session.key, envId, `/logs/${encodeURIComponent(service)}?tail=${LOG_TAIL}`, this.visitor(req));
    const status = answer?.status === 200 ? 200 : answer?.status === 404 ? 404 : 502;
    const text = status === 200 ? answer!.body : status === 404 ? `no service "${service}" in ${envId}` : 'the agent of this env does not answer';
    if (asText) return void res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
    return this.html(res, status, logsPage(envId, service, text, session.csrf));
  }

  /** POSTs: from the dashboard's own origin, with the session's CSRF token, a small urlencoded form. */
  private async mutate(req: IncomingMessage, res: ServerResponse, session: DashboardSession, path: string): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) return this.html(res, 403, messagePage('Refused', 'This form was sent from another site.'));
    const form = await readForm(req);
    if (!form || !this.sessions.csrfOk(session, form.get('csrf'))) return this.html(res, 403, messagePage('Refused', 'The form is stale or was not sent by the dashboard: reload the page and try again.'));
    if (path === '/logout') {
      this.sessions.logout(session);
      return this.redirect(res, '/', { 'set-cookie': sessionCookie({ ...session, expiresAt: Date.now() }) });
    }
    const revoke = /^\/share\/([A-Za-z0-9_-]{16,64})\/rm$/.exec(path);
    if (revoke) {
      const link = (await this.options.shares.list(session.key)).find((s) => s.id === revoke[1]);
      if (link) await this.options.shares.revoke(session.key, link.id);
      this.options.log.info({ accountId: session.accountId, envId: link?.envId, revoked: Boolean(link) }, 'dashboard share link revoked');
      return this.redirect(res, link ? `/env/${encodeURIComponent(link.envId)}` : '/');
    }
    const make = /^\/env\/([^/]+)\/share$/.exec(path);
    const envId = make && this.envOf(session, decodeURIComponent(make[1]!));
    if (!envId) return this.html(res, 404, messagePage('Not found', 'No such environment of this account is connected.'));
    const parsed = shareFormSchema.safeParse({ service: form.get('service') ?? '', ttl: form.get('ttl') ?? '24' });
    if (!parsed.success) return this.html(res, 400, messagePage('Not made', 'Choose a service of the env and 1 to 168 hours.'));
    const { service, ttl } = parsed.data;
    const urls = this.options.registry
      .forEnv(session.key, envId)
      .filter((t) => t !== agentTunnel(this.options.registry, session.key, envId) && (!service || t.service === service));
    if (!urls.length) return this.html(res, 400, messagePage('Not made', `The env has no service "${service}".`));
    const id = randomBytes(18).toString('base64url');
    const expiresAt = Math.floor(Date.now() / 1000) + ttl * 3600;
    try {
      await this.options.shares.register(session.key, envId, { id, ...(service ? { service } : {}), expiresAt });
    } catch (error) {
      if (error instanceof RegistrationError) return this.html(res, 429, messagePage('Not made', error.message));
      throw error;
    }
    const token = this.options.shares.serverToken(session.key, id);
    const links = urls.map((t) => {
      const link = new URL('/_prevu/login', this.options.urls().urlFor(t.hostname));
      link.searchParams.set('token', token);
      return { service: t.service, url: link.href };
    });
    this.options.log.info({ accountId: session.accountId, envId, service: service || undefined }, 'dashboard share link made');
    return this.html(res, 200, shareMadePage(envId, links, expiresAt, session.csrf));
  }

  /** WebSocket `/env/<id>/live`: the env agent's events, for a session of its key, from the dashboard's origin only. */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number): void => void socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    const session = this.sessions.find(req.headers.cookie);
    if (!session) return refuse(401);
    if (req.headers.origin !== this.origin) return refuse(403);
    const m = /^\/env\/([^/?]+)\/live$/.exec(req.url ?? '');
    const envId = m && this.envOf(session, decodeURIComponent(m[1]!));
    const tunnel = envId ? agentTunnel(this.options.registry, session.key, envId) : undefined;
    if (!tunnel) return refuse(404);
    const release = this.sessions.socket(session);
    if (!release) return refuse(429);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.followEvents(ws, tunnel, this.visitor(req), release));
  }

  private followEvents(ws: WebSocket, tunnel: Tunnel, visitor: string, release: () => void): void {
    const stop = new AbortController();
    ws.once('close', () => {
      stop.abort();
      release();
    });
    ws.on('error', () => ws.terminate());
    void (async () => {
      const res = await agentGet(tunnel, '/events', visitor, stop.signal);
      let partial = '';
      res.setEncoding('utf8');
      for await (const chunk of res) {
        partial += chunk as string;
        const blocks = partial.split('\n\n');
        partial = blocks.pop() ?? '';
        for (const block of blocks) {
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          // the agent is the tenant's own code: only JSON objects go on, as they are, to its own account
          if (data && ws.readyState === ws.OPEN && ws.bufferedAmount < 1 << 20) ws.send(data.slice(6));
        }
      }
    })()
      .catch(() => undefined)
      .finally(() => ws.close());
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/.test(req.headers['content-type'] ?? '')) return undefined;
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_FORM) return undefined;
  }
  return new URLSearchParams(body);
}
