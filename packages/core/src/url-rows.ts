// The URL table of an env (service, port, URL, health) from its agent's tunnels: what `up` prints
// at the end, and `urls` and `status` print later.
import type { TunnelRow } from './agent-protocol.js';
import { AGENT_SERVICE } from './names.js';

export interface UrlRow {
  service: string;
  port: number;
  url: string;
  health: string;
}

export function urlRows(tunnels: TunnelRow[], services?: string[]): UrlRow[] {
  return tunnels
    // a `tcp:` port has no URL to show: `prevu connect` reaches it
    .filter((t) => t.service !== AGENT_SERVICE && t.url && !t.tcp && (!services || services.includes(t.service)))
    .map((t) => ({ service: t.service, port: t.port, url: t.url!, health: t.state }))
    .sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port);
}
