// The one registry of live tunnels: hostname -> tunnel, plus the hostnames whose client went away
// without cancelling them, so a browser sees "tunnel gone" (502) or "connecting" (503) instead of
// "unknown host" (404). A cancelled forward is released: nothing is remembered, so it is a 404.
// Everything else asks it; the HTTP side never reaches into the SSH layer.
import type { Duplex } from 'node:stream';

/** An SSH connection seen from the registry: who it is and how to open a channel on it. */
export interface TunnelOwner {
  readonly id: number;
  readonly accountId: string;
  readonly envId: string;
  readonly keyBlob: Buffer;
  openChannel(tunnel: Tunnel, from: { address: string; port: number }): Promise<Duplex>;
  /** Called when a newer connection of the same key+env takes one of this owner's names. */
  lost(tunnel: Tunnel, by: TunnelOwner): void;
}

export interface Tunnel {
  hostname: string;
  /** `<service>-<port>` or `<service>`. */
  name: string;
  service: string;
  port?: number;
  private: boolean;
  owner: TunnelOwner;
  /** How the client asked: tcpip-forward (bind address + port) or streamlocal (socket path). */
  bind: { kind: 'tcpip'; address: string; port: number } | { kind: 'streamlocal'; path: string };
}

/** openChannel's refusal when the owner already carries its limit of concurrent channels. */
export class ChannelLimitError extends Error {
  override name = 'ChannelLimitError';
}

export type Route =
  | { kind: 'tunnel'; tunnel: Tunnel }
  /** The hostname had a tunnel; a connection of its env is up again and re-registering. */
  | { kind: 'connecting'; since: number }
  | { kind: 'gone'; since: number }
  | { kind: 'unknown' };

interface Gone {
  at: number;
  accountId: string;
  envId: string;
}

const MAX_GONE = 100_000;
const GONE_TTL_MS = 7 * 24 * 3600_000;

export class Registry {
  private readonly byHost = new Map<string, Tunnel>();
  private readonly gone = new Map<string, Gone>();
  private readonly owners = new Map<string, Set<TunnelOwner>>(); // accountId -> live connections

  get size(): number {
    return this.byHost.size;
  }

  route(hostname: string): Route {
    const tunnel = this.byHost.get(hostname);
    if (tunnel) return { kind: 'tunnel', tunnel };
    const gone = this.gone.get(hostname);
    if (!gone) return { kind: 'unknown' };
    if (Date.now() - gone.at > GONE_TTL_MS) {
      this.gone.delete(hostname);
      return { kind: 'unknown' };
    }
    const envUp = [...(this.owners.get(gone.accountId) ?? [])].some((o) => o.envId === gone.envId);
    return envUp ? { kind: 'connecting', since: gone.at } : { kind: 'gone', since: gone.at };
  }

  /** Registers (or takes over) a hostname. The old owner, if another connection, is told. */
  add(tunnel: Tunnel): void {
    const previous = this.byHost.get(tunnel.hostname);
    this.byHost.set(tunnel.hostname, tunnel);
    this.gone.delete(tunnel.hostname);
    if (previous && previous.owner !== tunnel.owner) previous.owner.lost(previous, tunnel.owner);
  }

  /**
   * Removes the tunnel of a client that went away without cancelling it (if it is still the
   * registered one: a takeover may have replaced it); the hostname is remembered as gone.
   */
  remove(tunnel: Tunnel): boolean {
    if (this.byHost.get(tunnel.hostname) !== tunnel) return false;
    this.byHost.delete(tunnel.hostname);
    if (this.gone.size >= MAX_GONE) this.gone.delete(this.gone.keys().next().value!);
    this.gone.set(tunnel.hostname, { at: Date.now(), accountId: tunnel.owner.accountId, envId: tunnel.owner.envId });
    return true;
  }

  /** Releases a tunnel its client cancelled: the hostname is unknown (404) from now on. */
  release(tunnel: Tunnel): boolean {
    if (this.byHost.get(tunnel.hostname) !== tunnel) return false;
    this.byHost.delete(tunnel.hostname);
    this.gone.delete(tunnel.hostname);
    return true;
  }

  /** Tunnels of one env of one account, across all its connections, sorted by name. */
  forEnv(accountId: string, envId: string): Tunnel[] {
    const out: Tunnel[] = [];
    for (const t of this.byHost.values()) if (t.owner.accountId === accountId && t.owner.envId === envId) out.push(t);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  connectionsOf(accountId: string): number {
    return this.owners.get(accountId)?.size ?? 0;
  }

  addOwner(owner: TunnelOwner): void {
    let set = this.owners.get(owner.accountId);
    if (!set) this.owners.set(owner.accountId, (set = new Set()));
    set.add(owner);
  }

  removeOwner(owner: TunnelOwner): void {
    const set = this.owners.get(owner.accountId);
    set?.delete(owner);
    if (set?.size === 0) this.owners.delete(owner.accountId);
  }
}
