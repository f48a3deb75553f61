// The cluster's directory in Redis: one record per hostname, {node, key, env, at}, kept as long as
// the "gone" memory (7 days). `node` is the node whose SSH connection holds it, '' once its client
// went away. A node renews one lease key for itself; a record whose node has no lease reads as
// gone, so a node killed with kill -9 stops owning its names within LEASE_MS. Every
// check-and-set is one Lua script (atomic in Redis). A single Redis (or Sentinel), not Redis Cluster.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GONE_TTL_MS } from '../registry.js';

export const LEASE_MS = 6_000;
const RENEW_MS = 2_000;
const HOST = 'prevu:host:';
const NODE = 'prevu:node:';
const TAKEOVER = 'prevu:takeover:';

export interface HostRecord {
  node: string;
  key: string;
  env: string;
  at: number;
}

// KEYS[1] the record, KEYS[2] the node-lease prefix; ARGV key, env, new record, ttl, mode, me.
// 'take': the same key+env takes it from anyone. 'keep' (re-publishing after Redis came back):
// only where no other live node holds it.
const CLAIM = `
local old = redis.call('GET', KEYS[1])
if old then
  local r = cjson.decode(old)
  if r.key ~= ARGV[1] or r.env ~= ARGV[2] then return {0, old, redis.call('EXISTS', KEYS[2] .. r.node)} end
  if ARGV[5] == 'keep' and r.node ~= ARGV[6] and redis.call('EXISTS', KEYS[2] .. r.node) == 1 then return {0, old, 1} end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return {1, old or '', 0}`;

// ARGV me, 'gone' | 'release', now, ttl: only the node that holds the record changes it.
const DROP = `
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local r = cjson.decode(old)
if r.node ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then redis.call('DEL', KEYS[1]) return 1 end
r.node = ''
r.at = tonumber(ARGV[3])
redis.call('SET', KEYS[1], cjson.encode(r), 'PX', ARGV[4])
return 1`;

const LOCATE = `
local old = redis.call('GET', KEYS[1])
if not old then return {'', 0} end
local r = cjson.decode(old)
return {old, redis.call('EXISTS', KEYS[2] .. r.node)}`;

type Claim = { ok: true; previous?: HostRecord } | { ok: false; holder: HostRecord; live: boolean };

/** Where a hostname this node does not hold lives in the cluster. */
export type Location = { kind: 'node'; node: string } | { kind: 'gone'; since: number } | { kind: 'none' };

export class Directory {
  /** The node's Redis connection, also the shared share links' and counters' (redis-state.ts). */
  readonly redis: Redis;
  private readonly subscriber: Redis;
  private renewTimer: NodeJS.Timeout | undefined;
  private readyOnce = false;
  private subscribedOnce = false;
  /** channel -> what hears it, on the subscriber connection */
  private readonly channels = new Map<string, (message: string) => void>();

  /** `node` is `<host>:<port>#<boot id>`: where the others dial its hop listener, and which life of it. */
  constructor(
    url: string,
    readonly node: string,
    private readonly log: Logger,
    handlers: { takenOver(hostname: string, by: string): void; redisBack(): void; resubscribed(): void },
  ) {
    // Commands fail after 2 s rather than queue while Redis is away: a forward is refused, a
    // request answered from what this node knows; renewals and re-publishing catch up.
    const options = { commandTimeout: 2_000, maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: (times: number) => Math.min(times * 200, 1_000) };
    this.redis = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    this.redis.defineCommand('prevuClaim', { numberOfKeys: 2, lua: CLAIM });
    this.redis.defineCommand('prevuDrop', { numberOfKeys: 1, lua: DROP });
    this.redis.defineCommand('prevuLocate', { numberOfKeys: 2, lua: LOCATE });
    for (const client of [this.redis, this.subscriber]) client.on('error', (error: Error) => this.log.warn({ err: error.message }, 'redis'));
    this.redis.on('ready', () => {
      if (!this.readyOnce) return void (this.readyOnce = true);
      this.log.info('redis is back: renewing the lease and re-publishing the tunnels held here');
      void this.renew().then(handlers.redisBack);
    });
    this.listen(`${TAKEOVER}${this.node}`, (message) => {
      try {
        const { hostname, by } = JSON.parse(message) as { hostname: string; by: string };
        handlers.takenOver(hostname, by);
      } catch {
        this.log.warn('unreadable takeover message ignored');
      }
    });
    this.subscriber.on('message', (channel: string, message: string) => this.channels.get(channel)?.(message));
    // ioredis subscribes again by itself after a reconnect; subscribing here as well lets us wait
    // for it: what was published while we could not hear it is then looked for (handlers.resubscribed).
    this.subscriber.on('ready', () => {
      if (!this.subscribedOnce) return void (this.subscribedOnce = true);
      this.subscriber.subscribe(...this.channels.keys()).then(handlers.resubscribed, (error: Error) => this.log.warn({ err: error.message }, 'redis: subscribing again failed'));
    });
  }

  /** Hears the channel's messages from start() on; before start() only. */
  listen(channel: string, onMessage: (message: string) => void): void {
    this.channels.set(channel, onMessage);
  }

  /** Connects both clients, takes the lease and subscribes to the channels listened to (this node's takeovers among them). */
  async start(): Promise<void> {
    await Promise.all([this.redis.connect(), this.subscriber.connect()]);
    await this.subscriber.subscribe(...this.channels.keys());
    await this.renew();
    this.renewTimer = setInterval(() => void this.renew(), RENEW_MS);
  }

  private async renew(): Promise<void> {
    try {
      await this.redis.set(`${NODE}${this.node}`, '1', 'PX', LEASE_MS);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'lease not renewed');
    }
  }

  /** Claims a hostname for this node ('take'), or re-publishes one it holds ('keep'). */
  async claim(hostname: string, key: string, env: string, mode: 'take' | 'keep'): Promise<Claim> {
    const record: HostRecord = { node: this.node, key, env, at: Date.now() };
    const [ok, old, live] = (await (this.redis as unknown as Scripts).prevuClaim(`${HOST}${hostname}`, NODE, key, env, JSON.stringify(record), GONE_TTL_MS, mode, this.node)) as [number, string, number];
    if (!ok) return { ok: false, holder: JSON.parse(old) as HostRecord, live: live === 1 };
    const previous = old ? (JSON.parse(old) as HostRecord) : undefined;
    if (previous?.node && previous.node !== this.node) await this.redis.publish(`${TAKEOVER}${previous.node}`, JSON.stringify({ hostname, by: this.node }));
    return previous ? { ok: true, previous } : { ok: true };
  }

  /** The client went away ('gone': remembered) or cancelled ('release': forgotten); only if this node holds it. */
  async drop(hostname: string, how: 'gone' | 'release'): Promise<void> {
    await (this.redis as unknown as Scripts).prevuDrop(`${HOST}${hostname}`, this.node, how, Date.now(), GONE_TTL_MS);
  }

  async locate(hostname: string): Promise<Location> {
    const [old, live] = (await (this.redis as unknown as Scripts).prevuLocate(`${HOST}${hostname}`, NODE)) as [string, number];
    if (!old) return { kind: 'none' };
    const record = JSON.parse(old) as HostRecord;
    if (record.node && live === 1 && record.node !== this.node) return { kind: 'node', node: record.node };
    return record.node === this.node ? { kind: 'none' } : { kind: 'gone', since: record.at };
  }

  close(): void {
    clearInterval(this.renewTimer);
    // The lease goes with us: the names read as gone at once rather than after LEASE_MS.
    void this.redis
      .del(`${NODE}${this.node}`)
      .catch(() => undefined)
      .finally(() => {
        this.redis.disconnect();
        this.subscriber.disconnect();
      });
  }
}

type Script = (...args: Array<string | number>) => Promise<unknown>;
interface Scripts {
  prevuClaim: Script;
  prevuDrop: Script;
  prevuLocate: Script;
}
