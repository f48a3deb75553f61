// The agent's HTTP API (GET /tunnels, /services, /config, /logs, /lifecycle): the rows it answers, written by the agent
// (compose-tunnel-agent/src/api.ts) and read by the CLI (agent-client.ts checks them with zod).
// Types, constants and one node:crypto helper, so the agent bundle pays nothing for it.
import { createHmac } from 'node:crypto';
import type { RefusedForward } from './tunnel-protocol.js';

/** What the agent does with a service's URLs: ready is routed; the others say why not. */
export const ROUTING_STATES = ['ready', 'starting', 'unhealthy', 'stopped', 'crash_loop', 'asleep', 'expired'] as const;
export type RoutingState = (typeof ROUTING_STATES)[number];

/** One forward of the env (GET /tunnels). */
export interface TunnelRow {
  service: string;
  port: number;
  /** null until the tunnel server has registered the forward. */
  hostname: string | null;
  url: string | null;
  state: RoutingState;
  /** Why it is not routed (absent when ready): what `prevu up` says when it gives up waiting. */
  reason?: string;
  /** A port for `prevu connect` only (label `tcp:N`): its forward is private, it has no public URL. */
  tcp?: boolean;
  /** Why the tunnel server refused the forward (another env or key holds its hostname). */
  refused?: Pick<RefusedForward, 'heldByEnv' | 'reason'>;
}

/** One container of the project, as `prevu status` shows it (GET /services). */
export interface ServiceRow {
  service: string;
  /** docker's container state: running, exited ... */
  state: string;
  /** healthy, unhealthy, starting; '' without a healthcheck */
  health: string;
  routing: RoutingState;
  /** When not ready: why (exit code, OOM kill, healthcheck output, a dependency, the port), and what to do. */
  cause?: string;
  fix?: string;
}

/** What a service runs with (GET /config?salt=...), for `prevu diff`: values only as keyed hashes. */
export interface ServiceConfig {
  service: string;
  image: string;
  imageId: string;
  /** KEY -> HMAC-SHA256(salt, value), 16 hex characters: equal values give equal hashes in one request. */
  env: Record<string, string>;
}

/** How GET /config hashes a value: HMAC-SHA256 under the caller's salt, 16 hex characters. */
export function hashValue(salt: string, value: string): string {
  return createHmac('sha256', salt).update(value).digest('hex').slice(0, 16);
}

/** The most log lines GET /logs/<service>?tail=N gives at once. */
export const MAX_TAIL = 10_000;

/** Where an env is in its life: `asleep` (services stopped when idle, the next request wakes them), `expired` (TTL passed). */
export const LIFECYCLE_STATES = ['active', 'sleeping', 'asleep', 'waking', 'expired'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** The env's lifecycle as its agent runs it (GET /lifecycle; PUT /lifecycle {"pinned": bool} pins or unpins). */
export interface LifecycleRow {
  state: LifecycleState;
  /** When the TTL ends (ISO 8601); null: no TTL. A pinned env keeps it but does not expire. */
  expiresAt: string | null;
  pinned: boolean;
  /** Idle time before the services are stopped; 0: never sleeps. */
  sleepAfterSeconds: number;
  /** The last request the tunnel server saw for any of the env's URLs (ISO 8601); null: none yet. */
  lastRequestAt: string | null;
}
