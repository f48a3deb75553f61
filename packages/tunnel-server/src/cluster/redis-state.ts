// What a cluster shares in Redis besides the directory: share-link records and the counters that
// are security limits, so that every node answers a share token, a password or a one-use login
// token alike. Keys:
//   prevu:share:link:<key>/<id>  a record (JSON), PX until its expiresAt
//   prevu:share:of:<key>         the key's link ids, scored by expiresAt (ms): its limit
//   prevu:share:all              every <key>/<id>, scored likewise: the total limit
//   prevu:count:<name>           an attempt counter, PX its window
//   prevu:once:<name>            a one-use token's claim, PX until the token expires
// Each check-and-set is one Lua script, atomic in Redis. Every read is a round trip (a share-token
// request pays one GET): nothing is cached, so a revocation is seen by the very next request on
// any node. A failed command rejects, and callers refuse (fail closed).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Counters } from '../counters.js';
import { MAX_LIFETIME_S, storedSchema, type AddOutcome, type ShareLimits, type ShareRecord, type ShareStore } from '../share-links.js';

const LINK = 'prevu:share:link:';
const OF = 'prevu:share:of:';
const ALL = 'prevu:share:all';
const COUNT = 'prevu:count:';
const ONCE = 'prevu:once:';

// KEYS record, of-key set, all set; ARGV record JSON, id, key/id, expiresAt ms, now ms, per-account, total, set lifetime ms.
const ADD = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[5])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return 'per-account' end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[7]) then return 'total' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'taken' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, tonumber(ARGV[4]) - tonumber(ARGV[5])))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 'ok'`;

// KEYS as ADD's; ARGV id, key/id.
const REMOVE = `
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return n`;

// The window starts at the first attempt; later ones never stretch it.
const COUNT_ONE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// A window that ended is not brought back (as a key without expiry) by taking one back.
const UNCOUNT = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECR', KEYS[1]) end return 0`;

type Script = (...args: Array<string | number>) => Promise<unknown>;
interface Scripts {
  prevuShareAdd: Script;
  prevuShareRemove: Script;
  prevuCount: Script;
  prevuUncount: Script;
}

/** Logs a Redis failure where it happened, then lets the caller refuse. */
export function logged<T>(log: Logger, what: string, work: Promise<T>): Promise<T> {
  return work.catch((error: Error) => {
    log.warn({ err: error.message }, `redis: ${what} failed`);
    throw error;
  });
}

export class RedisShareStore implements ShareStore {
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {
    redis.defineCommand('prevuShareAdd', { numberOfKeys: 3, lua: ADD });
    redis.defineCommand('prevuShareRemove', { numberOfKeys: 3, lua: REMOVE });
    this.scripts = redis as unknown as Scripts;
  }

  /** A record as stored, checked: another node (or whoever reaches Redis) wrote it. */
  private parse(text: string | null, key: string, id?: string): ShareRecord | undefined {
    if (text === null) return undefined;
    let parsed;
    try {
      parsed = storedSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      this.log.warn({ key, id }, 'unreadable share record in redis ignored');
      return undefined;
    }
    return parsed.data.key === key && (id === undefined || parsed.data.id === id) ? parsed.data : undefined;
  }

  async get(key: string, id: string): Promise<ShareRecord | undefined> {
    return this.parse(await logged(this.log, 'share record read', this.redis.get(`${LINK}${key}/${id}`)), key, id);
  }

  async add(record: ShareRecord, limits: ShareLimits): Promise<AddOutcome> {
    const at = `${record.key}/${record.id}`;
    const run = this.scripts.prevuShareAdd(`${LINK}${at}`, `${OF}${record.key}`, ALL, JSON.stringify(record), record.id, at, record.expiresAt * 1000, Date.now(), limits.perAccount, limits.total, MAX_LIFETIME_S * 1000);
    return (await logged(this.log, 'share record write', run)) as AddOutcome;
  }

  async list(key: string): Promise<ShareRecord[]> {
    const ids = await logged(this.log, 'share list', this.redis.zrangebyscore(`${OF}${key}`, `(${Date.now()}`, '+inf'));
    if (ids.length === 0) return [];
    const texts = await logged(this.log, 'share list', this.redis.mget(ids.map((id) => `${LINK}${key}/${id}`)));
    return texts.flatMap((text, i) => this.parse(text, key, ids[i]) ?? []);
  }

  async remove(key: string, id: string): Promise<boolean> {
    const run = this.scripts.prevuShareRemove(`${LINK}${key}/${id}`, `${OF}${key}`, ALL, id, `${key}/${id}`);
    return (await logged(this.log, 'share record removal', run)) === 1;
  }
}

export class RedisCounters implements Counters {
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {
    redis.defineCommand('prevuCount', { numberOfKeys: 1, lua: COUNT_ONE });
    redis.defineCommand('prevuUncount', { numberOfKeys: 1, lua: UNCOUNT });
    this.scripts = redis as unknown as Scripts;
  }

  async count(name: string, windowMs: number): Promise<number> {
    return Number(await logged(this.log, 'counter', this.scripts.prevuCount(`${COUNT}${name}`, windowMs)));
  }

  async uncount(name: string): Promise<void> {
    await logged(this.log, 'counter', this.scripts.prevuUncount(`${COUNT}${name}`));
  }

  async once(name: string, ttlMs: number): Promise<boolean> {
    return (await logged(this.log, 'one-use claim', this.redis.set(`${ONCE}${name}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK';
  }
}
