// The registry of a cluster node (--redis): the in-process Registry stays the source for the
// tunnels this node's SSH connections hold, and every change to them is mirrored into the Redis
// directory, which decides across nodes. A forward is claimed there first: a name another key or
// env holds (or held: the gone memory) on any node is refused; the same key+env takes it over and
// the old node, told by pub/sub, drops it as a local takeover would.
import type { Logger } from 'pino';
import { Registry, refusalFor, type Refusal, type Tunnel } from '../registry.js';
import type { Directory } from './directory.js';

export class SharedRegistry extends Registry {
  private directory!: Directory;

  constructor(private readonly log: Logger) {
    super();
  }

  /** Set once the directory exists (it calls back into this registry). */
  attach(directory: Directory): void {
    this.directory = directory;
  }

  override async claimShared(tunnel: Tunnel): Promise<Refusal | undefined> {
    const { key, envId } = tunnel.owner;
    const claim = await this.directory.claim(tunnel.hostname, key, envId, 'take');
    if (claim.ok) return undefined;
    return refusalFor(tunnel.hostname, { key: claim.holder.key, envId: claim.holder.env }, key, claim.live);
  }

  override add(tunnel: Tunnel): Refusal | undefined {
    const refusal = super.add(tunnel);
    // This node remembers a holder the directory had lost (Redis restarted empty): undo the claim.
    if (refusal) this.mirror(tunnel.hostname, 'release');
    return refusal;
  }

  override remove(tunnel: Tunnel): boolean {
    const removed = super.remove(tunnel);
    if (removed) this.mirror(tunnel.hostname, 'gone');
    return removed;
  }

  override release(tunnel: Tunnel): boolean {
    const released = super.release(tunnel);
    if (released) this.mirror(tunnel.hostname, 'release');
    return released;
  }

  /** Another node took one of our names over (same key+env): drop it like a local takeover. */
  takenOver(hostname: string, by: string): void {
    const tunnel = this.byHost.get(hostname);
    if (!tunnel) return;
    this.byHost.delete(hostname);
    tunnel.owner.lost(tunnel, `node ${by}`);
  }

  /** Redis came back (maybe empty): put every name held here in it again, where no other live node has it since. */
  async republish(): Promise<void> {
    for (const tunnel of [...this.byHost.values()]) {
      try {
        const claim = await this.directory.claim(tunnel.hostname, tunnel.owner.key, tunnel.owner.envId, 'keep');
        if (!claim.ok) this.takenOver(tunnel.hostname, claim.holder.node);
      } catch (error) {
        this.log.warn({ hostname: tunnel.hostname, err: (error as Error).message }, 'not re-published');
      }
    }
  }

  private mirror(hostname: string, how: 'gone' | 'release'): void {
    this.directory.drop(hostname, how).catch((error: Error) => this.log.warn({ hostname, err: error.message }, 'directory not updated'));
  }
}
