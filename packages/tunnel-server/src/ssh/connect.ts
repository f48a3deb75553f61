// direct-tcpip channels: `prevu connect` (or `ssh -L 6379:redis:6379 <envId>@server`) reaches a
// service of one of the key's own envs, for what speaks TCP but not HTTP (Postgres, Redis). The
// destination host is a forward name of the env the connection logged in for: `<service>` (a
// one-port service) or `<service>-<port>`, or `<service>` with the port, which is tried as
// `<service>-<port>` next. The tunnel must be held by this very key (its full fingerprint: two
// keys may share a 50-bit accountId, and so a hostname); an agent key may not open one (it is
// the env's way out, not a way in). The channel to the agent is the one a visitor's would be
// (openChannel: its per-connection and per-address limits apply), plus a bound per key.
import { pipeline, type Duplex } from 'node:stream';
import type { ServerChannel, TcpipRequestInfo } from 'ssh2';
import { forwardName, hostname as hostnameFor, InvalidNameError, parseForwardName } from '@prevu/core/names';
import type { AddressLimiter } from '../limits.js';
import type { Registry, Tunnel } from '../registry.js';
import type { SshConnection } from './connection.js';

export interface ConnectContext {
  registry: Registry;
  baseDomain: string;
  /** Connect channels per key (the limiter's "address" is the key's fingerprint). */
  slots: AddressLimiter;
}

/** The env's tunnel a destination names, if this connection's key holds it. */
export function connectTarget(conn: SshConnection, registry: Registry, baseDomain: string, destination: string, port: number): Tunnel | undefined {
  let parsed: ReturnType<typeof parseForwardName>;
  try {
    parsed = parseForwardName(destination);
  } catch (error) {
    if (!(error instanceof InvalidNameError)) throw error;
    return undefined;
  }
  const names = [parsed.name, ...(parsed.port === undefined && port > 0 && port <= 65535 ? [forwardName(parsed.name, port)] : [])];
  for (const name of names) {
    const route = registry.route(hostnameFor(name, conn.envId, conn.accountId, baseDomain));
    if (route.kind === 'tunnel' && route.tunnel.owner.key === conn.key && route.tunnel.owner.envId === conn.envId) return route.tunnel;
  }
  return undefined;
}

export function handleConnect(conn: SshConnection, ctx: ConnectContext, accept: () => ServerChannel | undefined, reject: () => void, info: TcpipRequestInfo): void {
  const refuse = (why: string, limit?: string) => {
    // debug: a client may ask a thousand times a second; the limit refusals are counted in metrics
    conn.log.debug({ destination: info.destIP, port: info.destPort }, `connect refused: ${why}`);
    if (limit) conn.metrics.limitRefusals.inc({ limit });
    reject();
  };
  if (conn.agentKey) return refuse('an agent key may not connect to services');
  const tunnel = connectTarget(conn, ctx.registry, ctx.baseDomain, info.destIP, info.destPort);
  if (!tunnel) return refuse('no tunnel of this key and env has that name');
  const release = ctx.slots.acquire(conn.key);
  if (!release) return refuse('too many connect channels for this key', 'connect_channels_per_key');
  tunnel.owner.openChannel(tunnel, { address: conn.remote, port: info.srcPort }).then(
    (upstream: Duplex) => {
      const channel = accept();
      if (!channel) {
        upstream.destroy();
        return release();
      }
      conn.log.debug({ hostname: tunnel.hostname }, 'connect channel open');
      pipeline(channel, upstream, channel, () => {
        channel.destroy();
        upstream.destroy();
        release();
      });
    },
    (error: Error) => {
      release();
      refuse(`the agent did not open a channel (${error.message})`);
    },
  );
}
