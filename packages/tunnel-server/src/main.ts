#!/usr/bin/env node
// prevu-tunnel-server: wiring only. Reads the config, starts the SSH, HTTP(S) and management
// listeners, logs "ready" once all listen, and closes them on SIGTERM/SIGINT (SIGHUP reloads TLS files: http/tls.ts).
// first: ssh2 must be loaded by it (its packet padding from a pool)
import '@prevu/core/ssh2-padding';
import type { Server, Socket } from 'node:net';
import { pino } from 'pino';
import { isPrevuError } from '@prevu/core/errors';
import { loadConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { Registry } from './registry.js';
import { loadHostKey } from './ssh/host-key.js';
import { loadAuthorizedKeys } from './ssh/auth.js';
import { createSshServer } from './ssh/server.js';
import { createHttpServer, createHttpsServer } from './http/server.js';
import { ShareLinks, stateDirShares } from './share-links.js';
import { LocalCounters } from './counters.js';
import { AgentKeys } from './agent-keys.js';
import { loadTls, watchTls } from './http/tls.js';
import { createManagementServer } from './management.js';
import { publicUrls } from './public-urls.js';
import { AddressLimiter } from './limits.js';
import { Dashboard } from './dashboard/server.js';
import type { PublicUrls } from './ssh/exec.js';

let config;
try {
  config = loadConfig(process.argv.slice(2), process.env);
} catch (error) {
  if (!isPrevuError(error)) throw error;
  process.stderr.write(`prevu-tunnel-server: ${error.line}\n`);
  process.exit(error.exitCode);
}

const log = pino({ level: config.logLevel, base: { svc: 'tunnel-server' } });
const listen = (server: Server | { listen: Server['listen'] }, port: number, what: string) =>
  new Promise<number>((resolve, reject) => {
    const s = server as Server;
    s.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`cannot listen for ${what} on ${config.listen}:${port} (${error.code ?? error.message}); pick another port or stop what uses it`)));
    s.listen(port, config.listen, () => resolve((s.address() as { port: number }).port));
  });

try {
  // --redis: a node of a cluster (cluster/node.ts); without it, alone as ever, and without loading
  // ioredis at all (it was ~10 MB of a lone server's RSS).
  const cluster = config.redis && config.clusterSecretFile ? await (await import('./cluster/node.js')).startClusterNode({ ...config, redis: config.redis, clusterSecretFile: config.clusterSecretFile }, log) : undefined;
  const registry = cluster?.registry ?? new Registry();
  const metrics = createMetrics(() => registry.size);
  const tls = loadTls(config);
  // Limits that count tries (share passwords, one-use login tokens): cluster-wide with --redis.
  const counters = cluster?.counters ?? new LocalCounters();
  const shares = new ShareLinks(cluster?.shares ?? stateDirShares(config.stateDir), counters, { perAccount: config.maxShareLinksPerAccount, total: config.maxShareLinks });
  const httpConnections = new AddressLimiter(config.maxHttpConnections, config.maxHttpConnectionsPerAddress);
  // Agent keys: in Redis with --redis, so an agent logs in at any node and a revocation reaches them all.
  const agentKeys = cluster?.agentKeys ?? AgentKeys.load(config.stateDir);
  // the dashboard names the URLs the listeners below end up with
  const named: { urls?: PublicUrls } = {};
  const dashboard = new Dashboard({ registry, shares, counters, rates: metrics.envRates, log, stateDir: config.stateDir, baseDomain: config.baseDomain, urls: () => named.urls! });
  await dashboard.listen();
  const proxyOptions = {
    registry,
    metrics,
    shares,
    dashboard,
    log,
    maxHeaderBytes: config.maxHeaderBytes,
    maxStreamsPerConnection: config.maxStreamsPerConnection,
    idleTimeoutMs: config.idleTimeoutSeconds * 1000,
    headTimeoutMs: config.headTimeoutSeconds * 1000,
    minBodyBytesPerSecond: config.minBodyBytesPerSecond,
    ...(cluster ? { elsewhere: cluster.elsewhere } : {}),
  };
  const servers: Array<{ close(): unknown }> = [dashboard];
  const ports: Record<string, number> = {};
  // The SSH server needs the public URLs, which need the HTTPS port bound: SSH-in-TLS sockets wait
  // for it in `sshOverTls` (none arrive before "ready" is logged but a stray one is refused).
  const sshOverTls: { accept?: (socket: Socket) => void } = {};
  if (tls) {
    const https = createHttpsServer(proxyOptions, tls, httpConnections, (socket) => (sshOverTls.accept ? sshOverTls.accept(socket) : socket.destroy()));
    servers.push(https);
    if (config.tlsCert && config.tlsKey) {
      // Only a warning: a renewal that lags must not take SSH tunnels down too, and the watch
      // below puts the renewed pair in place when it arrives (README, "TLS certificates from files").
      if (tls.validTo! < new Date()) log.warn({ validTo: tls.validTo }, 'tls certificate expired: browsers refuse it until it is renewed');
      const stopWatch = watchTls(https, { tlsCert: config.tlsCert, tlsKey: config.tlsKey, baseDomain: config.baseDomain }, tls, log);
      servers.push({ close: stopWatch });
    }
    ports.https = await listen(https, config.httpsPort!, 'HTTPS');
  }
  // URLs name the ports actually bound (port 0 asks the kernel for one); with TLS on, they are
  // https ones and plain HTTP only redirects to them.
  const httpsUrls = tls ? publicUrls({ ...config, httpsPort: ports.https! }) : undefined;
  // Only names under the base domain are redirected: the plain port is no open redirect.
  const underBase = new RegExp(`^([a-z0-9-]+\\.)*${config.baseDomain.replace(/\./g, '\\.')}$`);
  const httpsUrlFor = httpsUrls && ((host: string) => (underBase.test(host) ? httpsUrls.urlFor(host) : undefined));
  const http = createHttpServer(httpsUrlFor ? { ...proxyOptions, httpsUrlFor } : proxyOptions, httpConnections);
  servers.push(http);
  ports.http = await listen(http, config.httpPort, 'HTTP');
  const urls = httpsUrls ?? publicUrls({ ...config, httpPort: ports.http! });
  named.urls = urls;
  const hostKey = loadHostKey(config.stateDir);
  const ssh = createSshServer({
    hostKey: hostKey.privateKey,
    ...(config.authorizedKeys ? { allowList: loadAuthorizedKeys(config.authorizedKeys) } : {}),
    registry,
    metrics,
    log,
    urls,
    shares,
    agentKeys,
    baseDomain: config.baseDomain,
    maxForwardsPerConnection: config.maxForwardsPerConnection,
    maxConnectionsPerAccount: config.maxConnectionsPerAccount,
    maxChannelsPerConnection: config.maxChannelsPerConnection,
    maxChannelsPerVisitor: config.maxChannelsPerVisitor,
    maxAuthTries: config.maxAuthTries,
    maxUnauthenticated: config.maxUnauthenticated,
    maxUnauthenticatedPerAddress: config.maxUnauthenticatedPerAddress,
    maxSshConnectionsPerAddress: config.maxSshConnectionsPerAddress,
    maxSessionsPerConnection: config.maxSessionsPerConnection,
    maxConnectChannelsPerKey: config.maxConnectChannelsPerKey,
    keepaliveSeconds: config.sshKeepaliveSeconds,
  });
  sshOverTls.accept = ssh.accept;
  servers.push(ssh.server);
  ports.ssh = await listen(ssh.server, config.sshPort, 'SSH');
  if (cluster) {
    const hop = cluster.hopServer(proxyOptions);
    servers.push(hop, cluster);
    ports.cluster = await listen(hop, config.clusterPort, 'the cluster hop');
  }
  const management = createManagementServer(metrics);
  servers.push(management);
  ports.management = await listen(management, config.managementPort, 'management');
  log.info({ ports, baseUrl: urls.baseUrl, hostKey: hostKey.fingerprint, mode: config.authorizedKeys ? 'allow-list' : 'open', ...(cluster ? { node: cluster.node } : {}), ...(tls?.caPath ? { devCa: tls.caPath } : {}) }, 'ready');

  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    for (const server of servers) server.close();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  process.stderr.write(`prevu-tunnel-server: ${isPrevuError(error) ? error.line : (error as Error).message}\n`);
  process.exit(isPrevuError(error) ? error.exitCode : 2);
}
