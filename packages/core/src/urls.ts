// The URL rule, the one owner of it: a service's ports -> forward names (the one-port rule) ->
// hostnames (names.ts) -> `scheme://host[:port]`. The overlay predicts the URLs with it, the agent
// names its forwards with it and the tunnel server writes the URLs it answers with it, so the
// three cannot disagree. Imports only names.ts: the agent and the tunnel server bundle it.
import { DASHBOARD_LABEL, forwardName, hostname } from './names.js';

/** Where URLs point: the tunnel server as browsers see it (`http://localhost:8080`). */
export interface PublicBase {
  scheme: 'http' | 'https';
  baseDomain: string;
  /** Omitted from URLs when it is the scheme's default. */
  port?: number;
}

const DEFAULT_PORTS = { http: 80, https: 443 } as const;

export function parseBaseUrl(baseUrl: string): PublicBase {
  const url = new URL(baseUrl);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  // URL already leaves out a port that is the scheme's default.
  return { scheme, baseDomain: url.hostname.toLowerCase(), ...(url.port ? { port: Number(url.port) } : {}) };
}

/** `scheme://host[:port]`, the port left out when it is the scheme's default. */
export function urlFor(base: Omit<PublicBase, 'baseDomain'>, host: string): string {
  const port = base.port === undefined || base.port === DEFAULT_PORTS[base.scheme] ? '' : `:${base.port}`;
  return `${base.scheme}://${host}${port}`;
}

/** The URL of a forward of an env. */
export function forwardUrl(base: PublicBase, forward: string, envId: string, accountId: string): string {
  return urlFor(base, hostname(forward, envId, accountId, base.baseDomain));
}

/** The tunnel server's dashboard (`prevu dashboard`), beside the env URLs under the same base. */
export function dashboardUrl(base: PublicBase): string {
  return urlFor(base, `${DASHBOARD_LABEL}.${base.baseDomain}`);
}

export interface ServiceForward {
  port: number;
  /** `<service>` for a service's one port, `<service>-<port>` for each of several. */
  name: string;
  /** The port as names carry it (forward name, PREVU_URL_*): absent for a one-port service. */
  namedPort?: number;
}

/**
 * The one-port rule: a service with one exposed port is reached as `<service>`, one with several
 * as `<service>-<port>` each, so the common case has the shortest URL.
 */
export function serviceForwards(service: string, ports: readonly number[]): ServiceForward[] {
  return ports.map((port) => {
    const namedPort = ports.length === 1 ? undefined : port;
    return { port, name: forwardName(service, namedPort), ...(namedPort === undefined ? {} : { namedPort }) };
  });
}
