// Global requests: tcpip-forward (bind address `<service>-<port>` or `<service>`) and
// streamlocal-forward@openssh.com (`/<service>-<port>[#access=private]`), and their cancels;
// `proto=h2c` in the fragment marks a service that speaks HTTP/2 in clear (gRPC).
// Each accepted forward is a hostname in the registry; a newer connection of the same key+env
// takes over a name atomically (the registry swaps the entry, there is no window without one);
// a name another key or env holds is refused, and `exec hello` tells why.
// A cancel releases the name at once: the client said it is gone on purpose, so 404, not 502.
import { hostname as hostnameFor, InvalidNameError, parseForwardName } from '@prevu/core/names';
import type { Refusal, Registry, Tunnel } from '../registry.js';
import type { SshConnection } from './connection.js';

export interface ForwardLimits {
  maxForwardsPerConnection: number;
  baseDomain: string;
}

type Accept = ((port?: number) => void) | undefined;
type Reject = (() => void) | undefined;

// OpenSSH matches a forwarded-tcpip channel by (bind address, port); for `-R name:0:...` it
// needs a port back. Any stable number will do since the hostname, not the port, routes.
const DEFAULT_BIND_PORT = 80;

export function handleForwardRequest(
  conn: SshConnection,
  registry: Registry,
  limits: ForwardLimits,
  accept: Accept,
  reject: Reject,
  name: string,
  info: unknown,
): void {
  const data = info as { bindAddr?: string; bindPort?: number; socketPath?: string };
  const cancel = name.startsWith('cancel-');
  const raw = name.endsWith('tcpip-forward') ? data.bindAddr : data.socketPath;
  let parsed: ReturnType<typeof parseForwardName>;
  try {
    parsed = parseForwardName(raw ?? '');
  } catch (error) {
    if (!(error instanceof InvalidNameError)) throw error;
    conn.log.info({ request: name, raw }, 'forward refused: bad name');
    return reject?.();
  }
  if (name !== 'tcpip-forward' && name !== 'streamlocal-forward@openssh.com' && !cancel) return reject?.();

  if (cancel) {
    conn.refused.delete(parsed.name);
    const tunnel = conn.tunnels.get(parsed.name);
    if (tunnel) {
      conn.tunnels.delete(parsed.name);
      registry.release(tunnel);
      conn.log.info({ hostname: tunnel.hostname }, 'forward cancelled');
    }
    return accept?.();
  }

  if (!conn.tunnels.has(parsed.name) && conn.tunnels.size >= limits.maxForwardsPerConnection) {
    conn.log.warn({ name: parsed.name, limit: limits.maxForwardsPerConnection }, 'forward refused: too many forwards on this connection');
    conn.metrics.limitRefusals.inc({ limit: 'forwards_per_connection' });
    return reject?.();
  }
  const bindPort = data.bindPort || DEFAULT_BIND_PORT;
  const tunnel: Tunnel = {
    hostname: hostnameFor(parsed.name, conn.envId, conn.accountId, limits.baseDomain),
    name: parsed.name,
    service: parsed.service,
    ...(parsed.port !== undefined ? { port: parsed.port } : {}),
    private: parsed.private,
    h2c: parsed.h2c,
    owner: conn,
    bind: name === 'tcpip-forward' ? { kind: 'tcpip', address: data.bindAddr!, port: bindPort } : { kind: 'streamlocal', path: data.socketPath! },
  };
  const settle = (refusal: Refusal | undefined) => {
    if (refusal) {
      // Bounded like the forwards: a client asking a million taken names keeps the latest few.
      if (conn.refused.size >= limits.maxForwardsPerConnection) conn.refused.delete(conn.refused.keys().next().value!);
      conn.refused.set(parsed.name, refusal);
      conn.log.warn({ hostname: tunnel.hostname, heldByEnv: refusal.heldByEnv }, 'forward refused: the hostname is held by another key or env');
      conn.metrics.limitRefusals.inc({ limit: 'hostname_held' });
      return reject?.();
    }
    conn.refused.delete(parsed.name);
    const previous = conn.tunnels.get(parsed.name);
    conn.tunnels.set(parsed.name, tunnel);
    if (previous && previous.hostname !== tunnel.hostname) registry.remove(previous);
    conn.log.info({ hostname: tunnel.hostname, private: tunnel.private, h2c: tunnel.h2c, kind: tunnel.bind.kind }, 'forward registered');
    if (name === 'tcpip-forward') accept?.(bindPort);
    else accept?.();
  };
  const shared = registry.claimShared?.(tunnel);
  if (!shared) return settle(registry.add(tunnel));
  // A cluster node asks the others first (cluster/shared-registry.ts); a directory that does not
  // answer refuses the forward: a name is never served here unchecked.
  shared.then(
    (refusal) => {
      if (!conn.closed) return settle(refusal ?? registry.add(tunnel));
      // The client left while the cluster answered: as if it had closed just after registering.
      if (!refusal && !registry.add(tunnel)) registry.remove(tunnel);
      reject?.();
    },
    (error: Error) => {
      conn.log.warn({ hostname: tunnel.hostname, err: error.message }, 'forward refused: the cluster directory did not answer');
      reject?.();
    },
  );
}
