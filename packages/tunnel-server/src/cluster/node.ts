// This process as one node of a cluster (--redis): the shared registry, the Redis directory, the
// hop listener, the proxy's `elsewhere`, and the share links, limit counters (redis-state.ts) and
// agent keys (redis-agent-keys.ts) every node reads alike. main.ts only wires what this returns.
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { errors } from '@prevu/core/errors';
import type { Config } from '../config.js';
import { createH2Acceptor } from '../http/h2.js';
import { ProxyConnection, type ProxyOptions, type Remote, type Visitor } from '../http/proxy.js';
import type { Route } from '../registry.js';
import type { Counters } from '../counters.js';
import { SECRET_BYTES, type ShareStore } from '../share-links.js';
import { Directory } from './directory.js';
import { createHopServer, dialHop } from './hop.js';
import { RedisCounters, RedisShareStore } from './redis-state.js';
import { RedisAgentKeys } from './redis-agent-keys.js';
import { SharedRegistry } from './shared-registry.js';

const MIN_SECRET = 32;

function readSecret(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw errors.serverClusterSecretUnusable(file, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  if (text.length < MIN_SECRET) throw errors.serverClusterSecretUnusable(file, `${text.length} characters, fewer than ${MIN_SECRET}`);
  return Buffer.from(text);
}

export interface ClusterNode {
  registry: SharedRegistry;
  node: string;
  elsewhere: NonNullable<ProxyOptions['elsewhere']>;
  /** Share records in Redis, and the secret of share cookies and server tokens, the same on every node. */
  shares: { store: ShareStore; secret: Buffer };
  counters: Counters;
  agentKeys: RedisAgentKeys;
  /** The hop listener; its connections run the proxy, or its HTTP/2 side, with `options` (without hopping again). */
  hopServer(options: ProxyOptions): Server;
  close(): void;
}

export async function startClusterNode(config: Config & { redis: string; clusterSecretFile: string }, log: Logger): Promise<ClusterNode> {
  const secret = readSecret(config.clusterSecretFile);
  const host = config.clusterHost ?? hostname();
  const node = `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.clusterPort}#${randomBytes(6).toString('hex')}`;
  const registry = new SharedRegistry(log);
  const directory = new Directory(config.redis, node, log.child({ cluster: node }), {
    takenOver: (hostname, by) => registry.takenOver(hostname, by),
    redisBack: () => {
      void registry.republish();
      agentKeys.recheck();
    },
    resubscribed: () => agentKeys.recheck(),
  });
  const agentKeys = new RedisAgentKeys(directory, log);
  registry.attach(directory);
  try {
    await directory.start();
  } catch (error) {
    directory.close();
    throw errors.serverRedisUnreachable((error as Error).message);
  }

  const elsewhere = async (hostname: string, here: Route): Promise<Remote | Route> => {
    let location;
    try {
      location = await directory.locate(hostname);
    } catch (error) {
      log.warn({ hostname, err: (error as Error).message }, 'cluster directory did not answer: answered from this node alone');
      return here;
    }
    if (location.kind === 'gone') return here.kind === 'unknown' ? { kind: 'gone', since: location.since } : here;
    if (location.kind === 'none') return here;
    return { kind: 'node', node: location.node, dial: () => dialHop(secret, location.node, log) };
  };

  return {
    registry,
    node,
    elsewhere,
    // Derived, not stored: nothing in Redis lets its reader forge a cookie, and a rotated cluster secret rotates it.
    shares: { store: new RedisShareStore(directory.redis, log), secret: Buffer.from(hkdfSync('sha256', secret, '', 'prevu share sessions', SECRET_BYTES)) },
    counters: new RedisCounters(directory.redis, log),
    agentKeys,
    hopServer(options) {
      // The sending node decided the redirect and the hop already: here the bytes and streams are served.
      const own: ProxyOptions = { ...options };
      delete own.elsewhere;
      delete own.httpsUrlFor;
      const h2 = createH2Acceptor(own);
      return createHopServer(secret, node, log, (socket: Socket, visitor: Visitor, streams: boolean) =>
        streams ? h2(socket, visitor) : new ProxyConnection(socket, visitor.scheme, own, undefined, visitor),
      );
    },
    close: () => directory.close(),
  };
}
