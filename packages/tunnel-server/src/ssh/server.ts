// The SSH listener: modern algorithms only, keep-alives, no Nagle, then per connection:
// authenticate (auth.ts), register forwards (forwards.ts), answer exec (exec.ts), carry
// `prevu connect` channels (connect.ts).
// Before a connection has proven a key it is a stranger: it is counted per source address and in
// all from the TCP accept on (like sshd's MaxStartups), has LOGIN_GRACE_MS to authenticate, and
// a bounded number of tries; after, its sessions are bounded too.
import { createServer, type Server, type Socket } from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import type { Logger } from 'pino';
import type { Registry } from '../registry.js';
import type { ShareLinks } from '../share-links.js';
import { AGENT_KEY_REVOKED } from '@prevu/core/tunnel-protocol';
import type { AgentKeyStore } from '../agent-keys.js';
import type { Metrics } from '../metrics.js';
import { authenticate, type Identity } from './auth.js';
import { SshConnection } from './connection.js';
import { autoCork } from '@prevu/core/ssh-cork';
import { disconnect, DisconnectReason } from './disconnect.js';
import { handleForwardRequest } from './forwards.js';
import { handleConnect } from './connect.js';
import { handleSession, type PublicUrls } from './exec.js';
import { AddressLimiter, visitorAddress } from '../limits.js';

export interface SshServerOptions {
  hostKey: string;
  allowList?: Set<string>;
  registry: Registry;
  metrics: Metrics;
  log: Logger;
  urls: PublicUrls;
  shares: ShareLinks;
  agentKeys: AgentKeyStore;
  baseDomain: string;
  maxForwardsPerConnection: number;
  maxConnectionsPerAccount: number;
  maxChannelsPerConnection: number;
  maxChannelsPerVisitor: number;
  maxAuthTries: number;
  maxUnauthenticated: number;
  maxUnauthenticatedPerAddress: number;
  maxSshConnectionsPerAddress: number;
  maxSessionsPerConnection: number;
  maxConnectChannelsPerKey: number;
  keepaliveSeconds: number;
}

/** A TCP connection not authenticated yet: its slots, and the timer that drops it. */
interface Stranger {
  authenticated(): void;
}

const LOGIN_GRACE_MS = 30_000;

export const ALGORITHMS = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  serverHostKey: ['ssh-ed25519'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none'],
} as const;

export interface SshListener {
  /** The plain SSH port. */
  server: Server;
  /** Takes a socket that speaks SSH from its first byte, from the SSH port or from TLS (http/server.ts). */
  accept(socket: Socket): void;
}

/** The TCP listener for SSH; each socket is handed to ssh2 with Nagle off and writes coalesced per tick. */
export function createSshServer(options: SshServerOptions): SshListener {
  const { registry, metrics, log } = options;
  // A revoked (or replaced) agent key ends its live connections too, not only its next login.
  const agentConnections = new Set<SshConnection>();
  const revoked = (c: SshConnection) => disconnect(c.connection, DisconnectReason.noMoreAuthMethods, `${AGENT_KEY_REVOKED} the account revoked or replaced this agent key of env "${c.envId}"`);
  options.agentKeys.onDropped((key) => {
    for (const c of agentConnections) if (c.agentKey?.toString('base64') === key) revoked(c);
  });
  // Account-key logins the store could not check (auth.ts): one that turns out to be an agent key
  // is sent away to log in again as the agent it is.
  const uncheckedConnections = new Set<SshConnection>();
  // Drops told while this node could not hear them (a cluster node cut off from Redis) are found
  // by looking every live login up again; one the store still cannot answer waits for the next time.
  options.agentKeys.onRecheck?.(() => {
    for (const c of agentConnections) {
      void Promise.resolve(options.agentKeys.lookup(c.agentKey!)).then(
        (record) => (record?.accountKey === c.keyBlob.toString('base64') && record.envId === c.envId ? undefined : revoked(c)),
        () => undefined,
      );
    }
    for (const c of uncheckedConnections) {
      void Promise.resolve(options.agentKeys.lookup(c.keyBlob)).then((record) => {
        uncheckedConnections.delete(c);
        if (record) disconnect(c.connection, DisconnectReason.noMoreAuthMethods, 'prevu: this agent key logged in while agent keys could not be checked; log in again');
      }, () => undefined);
    }
  });
  const server = new ssh2.Server(
    {
      hostKeys: [options.hostKey],
      algorithms: ALGORITHMS as unknown as ssh2.Algorithms,
      ident: 'prevu',
      keepaliveInterval: options.keepaliveSeconds * 1000,
      keepaliveCountMax: 3,
    } as ssh2.ServerConfig,
    (connection: Connection, info) => onConnection(connection, info.ip, strangers.get(`${info.ip}|${info.port}`)),
  );
  const strangers = new Map<string, Stranger>(); // "ip|port" -> a TCP connection not authenticated yet
  const unauthenticated = new AddressLimiter(options.maxUnauthenticated, options.maxUnauthenticatedPerAddress);
  const perAddress = new AddressLimiter(Infinity, options.maxSshConnectionsPerAddress);
  // `prevu connect` channels, counted per key (the limiter's address is the key's fingerprint)
  const connectSlots = new AddressLimiter(Infinity, options.maxConnectChannelsPerKey);

  function onConnection(connection: Connection, ip: string, stranger: Stranger | undefined) {
    let identity: Identity | undefined;
    let conn: SshConnection | undefined;
    let tries = 0;
    let closed = false;
    connection.on('authentication', (ctx) => {
      if (++tries > options.maxAuthTries) {
        metrics.limitRefusals.inc({ limit: 'ssh_auth_tries' });
        // No answer to this attempt: the client reads the reason instead of trying its next key.
        return disconnect(connection, DisconnectReason.noMoreAuthMethods, `prevu-limit: more than ${options.maxAuthTries} authentication attempts on one connection`);
      }
      authenticate(ctx, {
        allowList: options.allowList,
        agentKeys: options.agentKeys,
        closed: () => closed,
        proven: (proven) => (identity = proven),
        refuse: (description) => disconnect(connection, DisconnectReason.noMoreAuthMethods, description),
      }).catch((error: Error) => {
        log.warn({ err: error.message, ip }, 'authentication failed');
        connection.end();
      });
    });
    connection.on('ready', () => {
      stranger?.authenticated();
      if (!identity) return connection.end();
      conn = new SshConnection(connection, identity, ip, registry, metrics, log, { maxChannels: options.maxChannelsPerConnection, maxChannelsPerVisitor: options.maxChannelsPerVisitor });
      if (registry.connectionsOf(identity.key) >= options.maxConnectionsPerAccount) {
        conn.log.warn({ limit: options.maxConnectionsPerAccount }, 'connection refused: too many connections for this account');
        metrics.limitRefusals.inc({ limit: 'ssh_connections_per_account' });
        disconnect(connection, DisconnectReason.tooManyConnections, `prevu-limit: account ${identity.accountId} already has ${options.maxConnectionsPerAccount} connections (the limit); close some and retry`);
        conn = undefined;
        return;
      }
      registry.addOwner(conn);
      if (conn.agentKey) agentConnections.add(conn);
      if (identity.unchecked) uncheckedConnections.add(conn);
      metrics.sshConnections.inc();
      conn.log.info({ ip }, 'ssh connection ready');
      const c = conn;
      connection.on('request', (accept, reject, name, data) =>
        handleForwardRequest(c, registry, { maxForwardsPerConnection: options.maxForwardsPerConnection, baseDomain: options.baseDomain }, accept, reject, name, data),
      );
      connection.on('tcpip', (accept, reject, info) => handleConnect(c, { registry, baseDomain: options.baseDomain, slots: connectSlots }, accept, reject, info));
      let sessions = 0;
      connection.on('session', (accept, reject) => {
        if (sessions >= options.maxSessionsPerConnection) {
          metrics.limitRefusals.inc({ limit: 'ssh_sessions' });
          return reject();
        }
        sessions++;
        handleSession(c, { registry, urls: options.urls, shares: options.shares, agentKeys: options.agentKeys, log }, () => accept().once('close', () => sessions--));
      });
    });
    connection.on('error', (error) => log.debug({ err: error.message, ip }, 'ssh connection error'));
    connection.on('close', () => {
      closed = true;
      if (!conn) return;
      agentConnections.delete(conn);
      uncheckedConnections.delete(conn);
      conn.close();
      metrics.sshConnections.dec();
      conn.log.info('ssh connection closed');
    });
  }

  /** Counts a new TCP connection as a stranger; false when its address or the server has no slot left. */
  function admit(socket: Socket): boolean {
    const address = visitorAddress(socket.remoteAddress);
    const releaseAddress = perAddress.acquire(address);
    const releaseStranger = releaseAddress && unauthenticated.acquire(address);
    if (!releaseAddress || !releaseStranger) {
      metrics.limitRefusals.inc({ limit: releaseAddress ? 'ssh_unauthenticated' : 'ssh_connections_per_address' });
      releaseAddress?.();
      return false;
    }
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    // Like sshd's LoginGraceTime, from the accept on: a peer that never sends its version line counts too.
    const grace = setTimeout(() => socket.destroy(), LOGIN_GRACE_MS);
    const authenticated = () => {
      clearTimeout(grace);
      strangers.delete(key);
      releaseStranger();
    };
    strangers.set(key, { authenticated });
    socket.once('close', () => {
      authenticated();
      releaseAddress();
    });
    return true;
  }

  const accept = (socket: Socket) => {
    if (!admit(socket)) return void socket.destroy();
    socket.setNoDelay(true);
    autoCork(socket);
    server.injectSocket(socket);
  };
  return { server: createServer({ noDelay: true }, accept).on('close', () => server.close()), accept };
}
