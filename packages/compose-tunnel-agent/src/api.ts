// The agent's HTTP API (port 3000 on the container's loopback, reached through its private tunnel):
// GET /tunnels, GET /services, GET /healthz, GET /events (WebSocket or SSE),
// GET /logs/<service>?tail=N[&follow=1], GET /lifecycle and PUT /lifecycle {"pinned": bool}.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
import { MAX_TAIL, type LifecycleRow, type ServiceConfig, type ServiceRow, type TunnelRow } from '@prevu/core/agent-protocol';
import type { EventLog } from './event-log.js';

export interface ApiSource {
  events: EventLog;
  tunnels(): TunnelRow[];
  services(): ServiceRow[];
  health(): { ok: boolean; connected: boolean; replaced: boolean; lastError?: string; envId: string; services: number; rssBytes: number; heapUsedBytes: number };
  config(salt: string): ServiceConfig[];
  lifecycle(): Promise<LifecycleRow>;
  setPinned(pinned: boolean): LifecycleRow;
  /** Last lines of a service's newest container; undefined when the service is unknown. */
  logs(service: string, tail: number): Promise<string[] | undefined>;
  /** Streams the newest container's output until `signal` aborts; false when the service is unknown. */
  followLogs(service: string, tail: number, onText: (text: string) => void, signal: AbortSignal): Promise<boolean>;
}

export function createApi(source: ApiSource): Server {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    void route(source, req, res).catch((error: Error) => {
      if (!res.headersSent) send(res, 500, { error: error.message });
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (pathOf(req) !== '/events') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const unsubscribe = source.events.subscribe((event) => ws.send(JSON.stringify(event)));
      ws.on('close', unsubscribe);
      ws.on('error', unsubscribe);
    });
  });
  server.on('close', () => wss.close());
  return server;
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://agent').pathname;
}

async function route(source: ApiSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  if (url.pathname === '/lifecycle' && req.method === 'PUT') return putLifecycle(source, req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET is supported (and PUT /lifecycle)' });
  if (url.pathname === '/lifecycle') return send(res, 200, await source.lifecycle());
  if (url.pathname === '/healthz') {
    const health = source.health();
    return send(res, health.ok ? 200 : 503, health);
  }
  if (url.pathname === '/tunnels') return send(res, 200, source.tunnels());
  if (url.pathname === '/services') return send(res, 200, source.services());
  if (url.pathname === '/config') {
    // the caller's salt: two envs compared in one run hash alike, and no hash outlives the run
    const salt = url.searchParams.get('salt') ?? '';
    if (!/^[0-9a-f]{32,128}$/.test(salt)) return send(res, 400, { error: 'salt must be 32-128 hex characters' });
    return send(res, 200, source.config(salt));
  }
  if (url.pathname === '/events') return streamEvents(source, req, res);
  const logs = /^\/logs\/([^/]+)$/.exec(url.pathname);
  if (logs) {
    const tailParam = url.searchParams.get('tail') ?? '100';
    if (!/^\d+$/.test(tailParam) || Number(tailParam) > MAX_TAIL) {
      return send(res, 400, { error: `tail must be a whole number from 0 to ${MAX_TAIL}` });
    }
    const service = decodeURIComponent(logs[1]!);
    if (url.searchParams.get('follow') === '1') return followLogs(source, service, Number(tailParam), req, res);
    const lines = await source.logs(service, Number(tailParam));
    if (!lines) return send(res, 404, { error: `no service "${service}" in this environment` });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(lines.length ? `${lines.join('\n')}\n` : '');
    return;
  }
  send(res, 404, { error: `no route ${url.pathname}; try /tunnels, /services, /config, /events, /logs/<service>, /lifecycle, /healthz` });
}

/** The most a PUT /lifecycle body may be: `{"pinned":false}` is 16 bytes. */
const MAX_BODY = 1024;

/** PUT /lifecycle {"pinned": bool}: checked by hand (no zod in the agent's start-up budget). */
async function putLifecycle(source: ApiSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_BODY) return send(res, 413, { error: `the body is at most ${MAX_BODY} bytes` });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return send(res, 400, { error: 'the body is one JSON object: {"pinned": true} or {"pinned": false}' });
  }
  const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
  const pinned = (body as { pinned?: unknown } | null)?.pinned;
  if (keys.length !== 1 || typeof pinned !== 'boolean') return send(res, 400, { error: 'the body is one JSON object: {"pinned": true} or {"pinned": false}' });
  send(res, 200, source.setPinned(pinned));
}

async function followLogs(source: ApiSource, service: string, tail: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const stop = new AbortController();
  req.on('close', () => stop.abort());
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
  };
  try {
    const known = await source.followLogs(service, tail, (text) => (start(), res.write(text)), stop.signal);
    if (!known) return send(res, 404, { error: `no service "${service}" in this environment` });
    start();
  } catch (error) {
    if (!stop.signal.aborted && !started) throw error;
  }
  res.end();
}

/** Server-sent events: the history, then live events; a comment every 15 s keeps proxies open. */
function streamEvents(source: ApiSource, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  const unsubscribe = source.events.subscribe((event) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(ping);
    unsubscribe();
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
