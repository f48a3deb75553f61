// One authenticated SSH connection as a tunnel owner: the forwards it holds and how the proxy
// opens a channel on it. forwarded-tcpip for tcpip-forward, forwarded-streamlocal for streamlocal.
import type { Duplex } from 'node:stream';
import type { Connection } from 'ssh2';
import type { Logger } from 'pino';
import { ChannelLimitError, type Registry, type Tunnel, type TunnelOwner } from '../registry.js';
import type { Metrics } from '../metrics.js';
import { disconnect, DisconnectReason } from './disconnect.js';
import type { Identity } from './auth.js';

let nextId = 1;

export class SshConnection implements TunnelOwner {
  readonly id = nextId++;
  readonly accountId: string;
  readonly envId: string;
  readonly keyBlob: Buffer;
  readonly agentKey: Buffer | undefined;
  /** name -> tunnel this connection forwards (registered or taken over since). */
  readonly tunnels = new Map<string, Tunnel>();
  readonly log: Logger;
  closed = false;
  /** Channels open or opening; bounded so one client cannot take every file descriptor. */
  private channels = 0;

  constructor(
    readonly connection: Connection,
    identity: Identity,
    readonly remote: string,
    private readonly registry: Registry,
    private readonly metrics: Metrics,
    log: Logger,
    private readonly maxChannels: number,
  ) {
    this.accountId = identity.accountId;
    this.envId = identity.envId;
    this.keyBlob = identity.keyBlob;
    this.agentKey = identity.agentKey;
    this.log = log.child({ conn: this.id, accountId: this.accountId, envId: this.envId });
  }

  openChannel(tunnel: Tunnel, from: { address: string; port: number }): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the tunnel client disconnected'));
      if (this.channels >= this.maxChannels) {
        return reject(new ChannelLimitError(`this environment already has ${this.maxChannels} open connections through its tunnel client (the limit)`));
      }
      this.channels++;
      const done = (error: Error | undefined, channel: Duplex) => {
        if (error) {
          this.channels--;
          return reject(error);
        }
        this.metrics.channelsOpened.inc();
        this.metrics.channelsOpen.inc();
        channel.once('close', () => {
          this.channels--;
          this.metrics.channelsOpen.dec();
        });
        resolve(channel);
      };
      try {
        if (tunnel.bind.kind === 'tcpip') this.connection.forwardOut(tunnel.bind.address, tunnel.bind.port, from.address, from.port, done);
        else this.connection.openssh_forwardOutStreamLocal(tunnel.bind.path, done);
      } catch (error) {
        this.channels--;
        reject(error as Error);
      }
    });
  }

  lost(tunnel: Tunnel, by: TunnelOwner): void {
    if (this.tunnels.get(tunnel.name) !== tunnel) return;
    this.tunnels.delete(tunnel.name);
    this.log.info({ hostname: tunnel.hostname, by: by.id }, 'tunnel taken over by a newer connection of the same key and env');
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
