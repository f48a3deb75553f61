// Talks to an env's agent through the tunnel server: its API is exposed on the agent's own
// private tunnel `prevu-agent`, so `urls`, `status`, `logs` and `up` never need SSH to the machine. Each
// call carries a short-lived account JWT (access-token.ts) as a Bearer token.
import type { Agent, request as Request } from 'undici';
import { z } from 'zod';
import { LIFECYCLE_STATES, MAX_TAIL, ROUTING_STATES, type LifecycleRow, type ServiceConfig, type ServiceRow, type TunnelRow } from './agent-protocol.js';
import { errors } from './errors.js';
import { EVENT_TYPES, type PrevuEvent } from './events.js';
import { localhostAwareLookup } from './localhost-lookup.js';
import { trustedCas } from './tunnel-address.js';
import { AGENT_SERVICE } from './names.js';
import { forwardUrl, parseBaseUrl } from './urls.js';

/** Events arrive from the agent over the network: checked here, at the boundary. */
const prevuEventSchema: z.ZodType<PrevuEvent> = z.object({
  type: z.enum(EVENT_TYPES),
  envId: z.string(),
  service: z.string().optional(),
  time: z.string(),
  details: z.record(z.string(), z.unknown()).default({}),
});

/** GET /tunnels rows, checked at the boundary against the agent's own type (agent-protocol.ts). */
const agentTunnelSchema: z.ZodType<TunnelRow> = z
  .object({
    service: z.string(),
    port: z.number().int(),
    hostname: z.string().nullable(),
    url: z.string().nullable(),
    state: z.enum(ROUTING_STATES),
    tcp: z.boolean().optional(),
    reason: z.string().max(1000).optional(),
    refused: z.object({ reason: z.string().max(1000), heldByEnv: z.string().max(200).optional() }).optional(),
  })
  .loose();

/** GET /services rows, likewise. */
const agentServiceSchema: z.ZodType<ServiceRow> = z
  .object({
    service: z.string(),
    state: z.string(),
    health: z.string(),
    routing: z.enum(ROUTING_STATES),
    cause: z.string().max(2000).optional(),
    fix: z.string().max(1000).optional(),
  })
  .loose();

/** What a service runs with (GET /config): values as keyed hashes only. */
const agentConfigSchema: z.ZodType<ServiceConfig> = z.object({
  service: z.string(),
  image: z.string(),
  imageId: z.string(),
  env: z.record(z.string(), z.string().max(64)),
});

/** GET/PUT /lifecycle (TTL, pin, sleep and the last request), likewise. */
const agentLifecycleSchema: z.ZodType<LifecycleRow> = z
  .object({
    state: z.enum(LIFECYCLE_STATES),
    expiresAt: z.iso.datetime().nullable(),
    pinned: z.boolean(),
    sleepAfterSeconds: z.number().int().nonnegative(),
    lastRequestAt: z.iso.datetime().nullable(),
  })
  .loose();

let undici: Promise<typeof import('undici')> | undefined;
/** One dispatcher per CA (most runs: one, the system CAs), kept for keep-alive. */
const dispatchers = new Map<string, Agent>();

/** undici on first use: commands that never call the agent (`prevu ls`) skip its ~50 ms import. */
async function http(ca: string | undefined): Promise<{ request: typeof Request; dispatcher: Agent }> {
  const u = await (undici ??= import('undici'));
  let dispatcher = dispatchers.get(ca ?? '');
  if (!dispatcher) {
    const trusted = trustedCas(ca);
    dispatcher = new u.Agent({ connect: { lookup: localhostAwareLookup, ...(trusted ? { ca: trusted } : {}) }, keepAliveTimeout: 1000 });
    dispatchers.set(ca ?? '', dispatcher);
  }
  return { request: u.request, dispatcher };
}

export interface AgentTarget {
  envId: string;
  accountId: string;
  /** The tunnel server's base URL from `hello` (http://localhost:8080). */
  baseUrl: string;
  privateKey: string;
  /** The profile's --ca-file (PEM): trusted besides the system CAs for the https URLs. */
  ca?: string;
}

export function agentUrl(target: AgentTarget): string {
  return forwardUrl(parseBaseUrl(target.baseUrl), AGENT_SERVICE, target.envId, target.accountId);
}

export class AgentClient {
  readonly url: string;
  private token?: { value: string; until: number };

  constructor(private readonly target: AgentTarget) {
    this.url = agentUrl(target);
  }

  private async authorization(): Promise<string> {
    if (!this.token || this.token.until < Date.now()) {
      // on first use, like undici: jose and ssh2 are ~200 ms of `prevu down`'s start otherwise
      const { signAccessToken } = await import('./access-token.js');
      const value = await signAccessToken({ privateKey: this.target.privateKey, envId: this.target.envId, ttlSeconds: 600 });
      this.token = { value, until: Date.now() + 300_000 };
    }
    return `Bearer ${this.token.value}`;
  }

  /** GET a path (PUT with `put`: a JSON body); returns the status and body (a 503 while the agent connects is a normal answer). */
  async get(path: string, options: { timeoutMs?: number; signal?: AbortSignal; put?: unknown } = {}): Promise<{ status: number; body: string }> {
    try {
      const { request, dispatcher } = await http(this.target.ca);
      const res = await request(`${this.url}${path}`, {
        dispatcher,
        ...(options.put !== undefined ? { method: 'PUT' as const, body: JSON.stringify(options.put) } : {}),
        headers: { authorization: await this.authorization(), ...(options.put !== undefined ? { 'content-type': 'application/json' } : {}) },
        headersTimeout: options.timeoutMs ?? 5000,
        bodyTimeout: options.timeoutMs ?? 5000,
        signal: options.signal,
      });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const code = (error as NodeJS.ErrnoException).code;
      // A name that does not exist will not start to while `up` waits: say so now, not at the timeout.
      if (code === 'ENOTFOUND') throw errors.baseDomainUnresolved(new URL(this.url).hostname, parseBaseUrl(this.target.baseUrl).baseDomain);
      throw errors.tunnelServerUnreachable(this.url, code ?? (error as Error).message);
    }
  }

  /** The agent's tunnels, or undefined while the agent is not reachable yet (404/502/503). */
  tunnels(signal?: AbortSignal): Promise<TunnelRow[] | undefined> {
    return this.getList('/tunnels', agentTunnelSchema, signal);
  }

  /** The env's containers with state and health, or undefined while the agent is not reachable (or predates /services). */
  services(signal?: AbortSignal): Promise<ServiceRow[] | undefined> {
    return this.getList('/services', agentServiceSchema, signal);
  }

  /** Each service's image and environment, values hashed with `salt`; undefined while the agent is not reachable. */
  config(salt: string, signal?: AbortSignal): Promise<ServiceConfig[] | undefined> {
    return this.getList(`/config?salt=${salt}`, agentConfigSchema, signal);
  }

  /** The env's lifecycle as its agent runs it, or undefined while the agent is not reachable (or predates /lifecycle). */
  async lifecycle(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LifecycleRow | undefined> {
    const res = await this.get('/lifecycle', options);
    return res.status === 200 ? this.lifecycleRow(res.body) : undefined;
  }

  /** Pins or unpins the env (PUT /lifecycle); the agent's answer, or undefined when it could not take it, with the status. */
  async setPinned(pinned: boolean): Promise<{ status: number; row?: LifecycleRow }> {
    const res = await this.get('/lifecycle', { put: { pinned } });
    return res.status === 200 ? { status: 200, row: this.lifecycleRow(res.body) } : { status: res.status };
  }

  private lifecycleRow(body: string): LifecycleRow {
    const parsed = agentLifecycleSchema.safeParse(JSON.parse(body));
    if (!parsed.success) throw errors.agentAnswerMalformed('/lifecycle', String(parsed.error.issues[0]?.message));
    return parsed.data;
  }

  private async getList<T extends z.ZodType>(path: string, schema: T, signal?: AbortSignal): Promise<z.infer<T>[] | undefined> {
    const res = await this.get(path, { signal });
    if (res.status !== 200) return undefined;
    const parsed = z.array(schema).safeParse(JSON.parse(res.body));
    if (!parsed.success) throw errors.agentAnswerMalformed(path, String(parsed.error.issues[0]?.message));
    return parsed.data;
  }

  /**
   * A service's log lines (the last `tail`), streamed to `onText`; with `follow`, until `signal`
   * aborts. Resolves to the HTTP status: 200, or 404 for a service the env does not have.
   */
  logs(service: string, options: { tail: number; follow: boolean; onText: (text: string) => void; signal?: AbortSignal }): Promise<number> {
    const query = `tail=${Math.min(options.tail, MAX_TAIL)}${options.follow ? '&follow=1' : ''}`;
    return this.stream(`/logs/${encodeURIComponent(service)}?${query}`, options.onText, options.signal);
  }

  /**
   * The agent's events as they arrive, its history first (SSE), to `onEvent` until the stream ends
   * or `signal` aborts. Resolves to the HTTP status.
   */
  events(onEvent: (event: PrevuEvent) => void, signal?: AbortSignal): Promise<number> {
    let partial = '';
    return this.stream('/events', (text) => {
      partial += text;
      const blocks = partial.split('\n\n');
      partial = blocks.pop() ?? '';
      for (const block of blocks) {
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        const parsed = data ? prevuEventSchema.safeParse(JSON.parse(data.slice(6))) : undefined;
        if (parsed?.success) onEvent(parsed.data);
      }
    }, signal);
  }

  /** The agent's recent events (the history its SSE stream starts with), newest last. */
  async recentEvents(limit = 10, settleMs = 300): Promise<PrevuEvent[]> {
    const events: PrevuEvent[] = [];
    const stop = new AbortController();
    let timer = setTimeout(() => stop.abort(), 5000);
    await this.events((event) => {
      events.push(event);
      // the history arrives at once; stop shortly after it
      clearTimeout(timer);
      timer = setTimeout(() => stop.abort(), settleMs);
    }, stop.signal).catch((error: Error) => {
      if (!stop.signal.aborted) throw error;
      return 200;
    });
    clearTimeout(timer);
    return events.slice(-limit);
  }

  /** Streams a path (SSE, logs) to `onChunk` until the body ends or `signal` aborts. */
  async stream(path: string, onChunk: (text: string) => void, signal?: AbortSignal): Promise<number> {
    const { request, dispatcher } = await http(this.target.ca);
    const res = await request(`${this.url}${path}`, {
      dispatcher,
      headers: { authorization: await this.authorization() },
      headersTimeout: 10_000,
      bodyTimeout: 0,
      signal,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return res.statusCode;
    }
    res.body.setEncoding('utf8');
    for await (const chunk of res.body) onChunk(chunk as string);
    return 200;
  }
}
