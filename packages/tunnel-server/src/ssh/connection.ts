// One authenticated SSH connection as a tunnel owner: the forwards it holds and how the proxy
// opens a channel on it. forwarded-tcpip for tcpip-forward, forwarded-streamlocal for streamlocal.
import type { Duplex } from 'node:stream';
import type { Connection } from 'ssh2';
import type { Logger } from 'pino';
import { ChannelLimitError, type Refusal, type Registry, type Tunnel, type TunnelOwner } from '../registry.js';
import type { Metrics } from '../metrics.js';
import { disconnect, DisconnectReason } from './disconnect.js';
import { visitorAddress } from '../limits.js';
import type { Identity } from './auth.js';

let nextId = 1;

export class SshConnection implements TunnelOwner {
  readonly id = nextId++;
  readonly accountId: string;
  readonly key: string;
  readonly envId: string;
  readonly keyBlob: Buffer;
  readonly agentKey: Buffer | undefined;
  /** name -> tunnel this connection forwards (registered or taken over since). */
  readonly tunnels = new Map<string, Tunnel>();
  /** name -> why its forward was refused (SSH's refusal carries no text; `exec hello` tells it). */
  readonly refused = new Map<string, Refusal>();
  readonly log: Logger;
  closed = false;
  /** Channels open or opening; bounded so one client cannot take every file descriptor. */
  private channels = 0;
  /** Of those, per visitor address: bounded so one address cannot take them all from the others. */
  private readonly visitors = new Map<string, number>();

  constructor(
    readonly connection: Connection,
    identity: Identity,
    readonly remote: string,
    private readonly registry: Registry,
    readonly metrics: Metrics,
    log: Logger,
    private readonly limits: { maxChannels: number; maxChannelsPerVisitor: number },
  ) {
    this.accountId = identity.accountId;
    this.key = identity.key;
    this.envId = identity.envId;
    this.keyBlob = identity.keyBlob;
    this.agentKey = identity.agentKey;
    this.log = log.child({ conn: this.id, accountId: this.accountId, envId: this.envId });
  }

  openChannel(tunnel: Tunnel, from: { address: string; port: number }): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the tunnel client disconnected'));
      const { maxChannels, maxChannelsPerVisitor } = this.limits;
      if (this.channels >= maxChannels) {
        this.metrics.limitRefusals.inc({ limit: 'channels_per_connection' });
        return reject(new ChannelLimitError(`this environment already has ${maxChannels} open connections through its tunnel client (the limit)`));
      }
      const visitor = visitorAddress(from.address);
      const held = this.visitors.get(visitor) ?? 0;
      if (held >= maxChannelsPerVisitor) {
        this.metrics.limitRefusals.inc({ limit: 'channels_per_visitor' });
        return reject(new ChannelLimitError(`your address already has ${maxChannelsPerVisitor} open connections to this environment (the limit for one address)`));
      }
      this.channels++;
      this.visitors.set(visitor, held + 1);
      const release = () => {
        this.channels--;
        const left = this.visitors.get(visitor)! - 1;
        if (left > 0) this.visitors.set(visitor, left);
        else this.visitors.delete(visitor);
      };
      const done = (error: Error | undefined, channel: Duplex) => {
        if (error) {
          release();
          return reject(error);
        }
        this.metrics.channelsOpened.inc();
        this.metrics.channelsOpen.inc();
        channel.once('close', () => {
          release();
          this.metrics.channelsOpen.dec();
        });
        resolve(channel);
      };
      try {
        if (tunnel.bind.kind === 'tcpip') this.connection.forwardOut(tunnel.bind.address, tunnel.bind.port, from.address, from.port, done);
        else this.connection.openssh_forwardOutStreamLocal(tunnel.bind.path, done);
      } catch (error) {
        release();
        reject(error as Error);
      }
    });
  }

  lost(tunnel: Tunnel, by: string): void {
    if (this.tunnels.get(tunnel.name) !== tunnel) return;
    this.tunnels.delete(tunnel.name);
    this.log.info({ hostname: tunnel.hostname, by }, 'tunnel taken over by a newer connection of the same key and env');
    // A connection left with nothing to serve is closed with the reason, so its client knows it
    // was replaced (and must not reconnect to take the names back) rather than cut by a fault.
    if (this.tunnels.size === 0) {
      disconnect(
        this.connection,
        DisconnectReason.tooManyConnections,
        `prevu-takeover: a newer connection of the same key and env "${this.envId}" took over all forwards of this one; not reconnecting avoids a fight`,
      );
    }
  }

  /** Drops every tunnel still registered to this connection (it closed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const tunnel of this.tunnels.values()) this.registry.remove(tunnel);
    this.tunnels.clear();
    this.registry.removeOwner(this);
  }
}
