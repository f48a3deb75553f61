// Prometheus metrics (prom-client) on the management port.
import { Counter, Gauge, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import { EnvRates } from './env-rates.js';

export function createMetrics(tunnelCount: () => number) {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    /** SSH channels opened to clients; one per proxied HTTP connection, not per request. */
    channelsOpened: new Counter({ name: 'prevu_tunnel_channels_opened_total', help: 'SSH channels opened to tunnel clients', registers: [registry] }),
    channelsOpen: new Gauge({ name: 'prevu_tunnel_channels_open', help: 'SSH channels to tunnel clients open now', registers: [registry] }),
    requests: new Counter({ name: 'prevu_http_requests_total', help: 'HTTP request heads routed', registers: [registry] }),
    /** The same per env over the last half hour (the dashboard's sparklines), bounded in memory. */
    envRates: new EnvRates(),
    errors: new Counter({ name: 'prevu_http_error_pages_total', help: 'error pages served, by status', labelNames: ['status'], registers: [registry] }),
    /** What the abuse limits turned away: an operator sizes the limits (and spots an attack) by it. */
    limitRefusals: new Counter({ name: 'prevu_limit_refusals_total', help: 'connections, sessions, channels, forwards or request bodies refused by a limit', labelNames: ['limit'], registers: [registry] }),
    sshConnections: new Gauge({ name: 'prevu_ssh_connections', help: 'authenticated SSH connections', registers: [registry] }),
    tunnels: new Gauge({
      name: 'prevu_tunnels',
      help: 'registered hostnames',
      registers: [registry],
      collect() {
        this.set(tunnelCount());
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
