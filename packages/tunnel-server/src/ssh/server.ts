// The SSH listener: modern algorithms only, keep-alives, no Nagle, then per connection:
// authenticate (auth.ts), register forwards (forwards.ts), answer exec (exec.ts).
import { createServer, type Server } from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import type { Logger } from 'pino';
import type { Registry } from '../registry.js';
import type { SharePasswords } from '../share-passwords.js';
import { AGENT_KEY_REVOKED } from '@prevu/core/tunnel-protocol';
import type { AgentKeys } from '../agent-keys.js';
import type { Metrics } from '../metrics.js';
import { authenticate, type Identity } from './auth.js';
import { SshConnection } from './connection.js';
import { autoCork } from './cork.js';
import { disconnect, DisconnectReason } from './disconnect.js';
import { handleForwardRequest } from './forwards.js';
import { handleSession, type PublicUrls } from './exec.js';

export interface SshServerOptions {
  hostKey: string;
  allowList?: Set<string>;
  registry: Registry;
  metrics: Metrics;
  log: Logger;
  urls: PublicUrls;
  passwords: SharePasswords;
  agentKeys: AgentKeys;
  baseDomain: string;
  maxForwardsPerConnection: number;
  maxConnectionsPerAccount: number;
  maxChannelsPerConnection: number;
  keepaliveSeconds: number;
}

const LOGIN_GRACE_MS = 30_000;

export const ALGORITHMS = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  serverHostKey: ['ssh-ed25519'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none'],
} as const;

/** The TCP listener for SSH; each socket is handed to ssh2 with Nagle off and writes coalesced per tick. */
export function createSshServer(options: SshServerOptions): Server {
  const { registry, metrics, log } = options;
  // A revoked (or replaced) agent key ends its live connections too, not only its next login.
  const agentConnections = new Set<SshConnection>();
  options.agentKeys.onDropped((key) => {
    for (const c of agentConnections) {
      if (c.agentKey?.toString('base64') === key) disconnect(c.connection, DisconnectReason.noMoreAuthMethods, `${AGENT_KEY_REVOKED} the account revoked or replaced this agent key of env "${c.envId}"`);
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
    (connection: Connection, info) => onConnection(connection, info.ip),
  );

  function onConnection(connection: Connection, ip: string) {
    let identity: Identity | undefined;
    let conn: SshConnection | undefined;
    // Like sshd's LoginGraceTime: a connection that does not authenticate in time is dropped.
    const grace = setTimeout(() => connection.end(), LOGIN_GRACE_MS);
    connection.on('authentication', (ctx) => {
      authenticate(ctx, options.allowList, options.agentKeys, (proven) => (identity = proven));
    });
    connection.on('ready', () => {
      clearTimeout(grace);
      if (!identity) return connection.end();
      conn = new SshConnection(connection, identity, ip, registry, metrics, log, options.maxChannelsPerConnection);
      if (registry.connectionsOf(identity.accountId) >= options.maxConnectionsPerAccount) {
        conn.log.warn({ limit: options.maxConnectionsPerAccount }, 'connection refused: too many connections for this account');
        disconnect(connection, DisconnectReason.tooManyConnections, `prevu-limit: account ${identity.accountId} already has ${options.maxConnectionsPerAccount} connections (the limit); close some and retry`);
        conn = undefined;
        return;
      }
      registry.addOwner(conn);
      if (conn.agentKey) agentConnections.add(conn);
      metrics.sshConnections.inc();
      conn.log.info({ ip }, 'ssh connection ready');
      const c = conn;
      connection.on('request', (accept, reject, name, data) =>
        handleForwardRequest(c, registry, { maxForwardsPerConnection: options.maxForwardsPerConnection, baseDomain: options.baseDomain }, accept, reject, name, data),
      );
      connection.on('session', (accept) => handleSession(c, { registry, urls: options.urls, passwords: options.passwords, agentKeys: options.agentKeys, log }, accept));
    });
    connection.on('error', (error) => log.debug({ err: error.message, ip }, 'ssh connection error'));
    connection.on('close', () => {
      clearTimeout(grace);
      if (!conn) return;
      agentConnections.delete(conn);
      conn.close();
      metrics.sshConnections.dec();
      conn.log.info('ssh connection closed');
    });
  }

  return createServer({ noDelay: true }, (socket) => {
    autoCork(socket);
    server.injectSocket(socket);
  }).on('close', () => server.close());
}
