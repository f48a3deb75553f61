// The one registry of live tunnels: hostname -> tunnel, plus the hostnames whose client went away
// without cancelling them, so a browser sees "tunnel gone" (502) or "connecting" (503) instead of
// "unknown host" (404). A cancelled forward is released: nothing is remembered, so it is a 404.
// Everything else asks it; the HTTP side never reaches into the SSH layer.
// A hostname belongs to one key (its full fingerprint, not the 50-bit accountId) and one env:
// only a newer connection of both takes it over; anyone else is refused and the holder keeps it.
import type { Duplex } from 'node:stream';

/** An SSH connection seen from the registry: who it is and how to open a channel on it. */
export interface TunnelOwner {
  readonly id: number;
  readonly accountId: string;
  /** `SHA256:...` of the key blob: what owns hostnames, quotas and share-link records. */
  readonly key: string;
  readonly envId: string;
  readonly keyBlob: Buffer;
  /** Forward name -> why the registry refused it on this connection. */
  readonly refused: ReadonlyMap<string, Refusal>;
  openChannel(tunnel: Tunnel, from: { address: string; port: number }): Promise<Duplex>;
  /** Called when a newer connection of the same key+env takes one of this owner's names; `by` says which (for the log). */
  lost(tunnel: Tunnel, by: string): void;
}

export interface Tunnel {
  hostname: string;
  /** `<service>-<port>` or `<service>`. */
  name: string;
  service: string;
  port?: number;
  private: boolean;
  /** The service speaks HTTP/2 without TLS (`proto=h2c` on the forward, gRPC): HTTP/2 requests reach it as HTTP/2. */
  h2c: boolean;
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
  key: string;
  envId: string;
}

/** Why a hostname could not be registered: someone else holds it (or held it and may come back). */
export interface Refusal {
  hostname: string;
  /** The env of the same key that holds it; absent when another key does (its env is not ours to tell). */
  heldByEnv?: string;
  reason: string;
}

const MAX_GONE = 100_000;
/** Gone names one key may keep remembered: its churn forgets its own oldest, never another key's. */
export const MAX_GONE_PER_KEY = 2_000;
export const GONE_TTL_MS = 7 * 24 * 3600_000;
/** Envs whose last request is remembered (for the agents' idle sleep); the least recently used go first. */
export const MAX_LAST_REQUESTS = 100_000;

/** The refusal for a hostname another key, or another env of the same key, holds (`live`) or held. */
export function refusalFor(hostname: string, holder: { key: string; envId: string }, key: string, live: boolean): Refusal {
  const what = live ? 'is the address of' : 'was the address of';
  const until = live ? '' : ' until it is cancelled, or 7 days after it went away';
  if (holder.key !== key) return { hostname, reason: `${hostname} ${what} another key's environment${until}` };
  return { hostname, heldByEnv: holder.envId, reason: `${hostname} ${what} env "${holder.envId}" of this key${until} (service and env names run together into the same address)` };
}

export class Registry {
  /** Protected for cluster/shared-registry.ts, which drops a name another node took over. */
  protected readonly byHost = new Map<string, Tunnel>();
  private readonly gone = new Map<string, Gone>();
  private readonly goneByKey = new Map<string, Set<string>>(); // key -> its gone hostnames, oldest first
  private readonly owners = new Map<string, Set<TunnelOwner>>(); // key -> live connections
  private readonly lastRequests = new Map<string, number>(); // `<key> <envId>` -> ms, least recently used first

  get size(): number {
    return this.byHost.size;
  }

  route(hostname: string): Route {
    const tunnel = this.byHost.get(hostname);
    if (tunnel) return { kind: 'tunnel', tunnel };
    const gone = this.liveGone(hostname);
    if (!gone) return { kind: 'unknown' };
    return this.ownersOf(gone.key, gone.envId).length > 0 ? { kind: 'connecting', since: gone.at } : { kind: 'gone', since: gone.at };
  }

  /**
   * With --redis (cluster/shared-registry.ts): asks the other nodes before a forward is added here.
   * Alone there is no one to ask, and forwards call add() at once.
   */
  claimShared?(tunnel: Tunnel): Promise<Refusal | undefined>;

  /**
   * Registers (or takes over) a hostname. Only the same key and env may take it from a live or
   * gone holder; the old owner, if another connection, is told. Anyone else gets the refusal.
   */
  add(tunnel: Tunnel): Refusal | undefined {
    const { hostname, owner } = tunnel;
    const previous = this.byHost.get(hostname);
    const holder = previous ? { key: previous.owner.key, envId: previous.owner.envId } : this.liveGone(hostname);
    if (holder && (holder.key !== owner.key || holder.envId !== owner.envId)) return refusalFor(hostname, holder, owner.key, Boolean(previous));
    this.byHost.set(hostname, tunnel);
    this.forget(hostname);
    if (previous && previous.owner !== owner) previous.owner.lost(previous, `connection ${owner.id}`);
    return undefined;
  }

  private liveGone(hostname: string): Gone | undefined {
    const gone = this.gone.get(hostname);
    if (gone && Date.now() - gone.at > GONE_TTL_MS) this.forget(hostname);
    return this.gone.get(hostname);
  }

  private forget(hostname: string): void {
    const gone = this.gone.get(hostname);
    if (!gone) return;
    this.gone.delete(hostname);
    const mine = this.goneByKey.get(gone.key)!;
    mine.delete(hostname);
    if (mine.size === 0) this.goneByKey.delete(gone.key);
  }

  private remember(hostname: string, gone: Gone): void {
    this.forget(hostname);
    const mine = this.goneByKey.get(gone.key);
    if (mine && mine.size >= MAX_GONE_PER_KEY) this.forget(mine.values().next().value!);
    if (this.gone.size >= MAX_GONE) this.forget(this.gone.keys().next().value!);
    this.gone.set(hostname, gone);
    let set = this.goneByKey.get(gone.key);
    if (!set) this.goneByKey.set(gone.key, (set = new Set()));
    set.add(hostname);
  }

  /**
   * Removes the tunnel of a client that went away without cancelling it (if it is still the
   * registered one: a takeover may have replaced it); the hostname is remembered as gone.
   */
  remove(tunnel: Tunnel): boolean {
    if (this.byHost.get(tunnel.hostname) !== tunnel) return false;
    this.byHost.delete(tunnel.hostname);
    this.remember(tunnel.hostname, { at: Date.now(), key: tunnel.owner.key, envId: tunnel.owner.envId });
    return true;
  }

  /** Releases a tunnel its client cancelled: the hostname is unknown (404) from now on. */
  release(tunnel: Tunnel): boolean {
    if (this.byHost.get(tunnel.hostname) !== tunnel) return false;
    this.byHost.delete(tunnel.hostname);
    this.forget(tunnel.hostname);
    return true;
  }

  /** Live connections of one env of one key. */
  ownersOf(key: string, envId: string): TunnelOwner[] {
    return [...(this.owners.get(key) ?? [])].filter((o) => o.envId === envId);
  }

  /** Tunnels of one env of one key, across all its connections, sorted by name. */
  forEnv(key: string, envId: string): Tunnel[] {
    const out: Tunnel[] = [];
    for (const t of this.byHost.values()) if (t.owner.key === key && t.owner.envId === envId) out.push(t);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * A request for one of the env's URLs arrived: what `exec last-request` answers its agent, which
   * puts the env to sleep after enough idle time. O(1) per request; bounded by MAX_LAST_REQUESTS.
   */
  touch(key: string, envId: string, at = Date.now()): void {
    const id = `${key} ${envId}`;
    this.lastRequests.delete(id);
    if (this.lastRequests.size >= MAX_LAST_REQUESTS) this.lastRequests.delete(this.lastRequests.keys().next().value!);
    this.lastRequests.set(id, at);
  }

  /** When the last request for the env arrived (ms), if one did since the server started. */
  lastRequest(key: string, envId: string): number | undefined {
    return this.lastRequests.get(`${key} ${envId}`);
  }

  /** The envs of one key with a live connection, sorted (the dashboard's list). */
  envsOf(key: string): string[] {
    return [...new Set([...(this.owners.get(key) ?? [])].map((o) => o.envId))].sort();
  }

  /** The account keys (blobs) with a live connection whose accountId is this one: a login token is checked against each. */
  keysOf(accountId: string): Buffer[] {
    const out: Buffer[] = [];
    for (const set of this.owners.values()) {
      const owner = set.values().next().value;
      if (owner?.accountId === accountId) out.push(owner.keyBlob);
    }
    return out;
  }

  connectionsOf(key: string): number {
    return this.owners.get(key)?.size ?? 0;
  }

  addOwner(owner: TunnelOwner): void {
    let set = this.owners.get(owner.key);
    if (!set) this.owners.set(owner.key, (set = new Set()));
    set.add(owner);
  }

  removeOwner(owner: TunnelOwner): void {
    const set = this.owners.get(owner.key);
    set?.delete(owner);
    if (set?.size === 0) this.owners.delete(owner.key);
  }
}
