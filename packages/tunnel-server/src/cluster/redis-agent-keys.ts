// A cluster's agent keys (agent-keys.ts), in Redis, so that an agent logs in at whichever node it
// reaches and `prevu down` at any node revokes its key everywhere. Keys:
//   prevu:agent-key:<key>                 the record (JSON), no expiry: it lives until revoked
//   prevu:agent-keys:envs:<account key>   hash envId -> key: the env's key, and the account's count
//   prevu:agent-keys:age:<account key>    the account's keys scored by createdAt: its oldest
//   prevu:agent-keys:holders              account keys ranked by count, then by their oldest key
//   prevu:agent-keys:total                how many records there are
// Registration and revocation are one Lua script each (atomic in Redis), O(log n) whatever the
// table's size, and publish every key they drop on prevu:agent-keys:dropped: each node closes its
// connections logged in with it. A node that could not hear for a while looks its live logins up
// again (onRecheck). Lookups are a GET each, nothing cached: a revoked key is refused at once.
import type { Logger } from 'pino';
import { AgentKeysUnavailable, checkRegistration, LIMITS, refusals, storedSchema, type AgentKeyLimits, type AgentKeyRecord, type AgentKeyStore, type Registration } from '../agent-keys.js';
import type { Directory } from './directory.js';
import { logged } from './redis-state.js';

const RECORD = 'prevu:agent-key:';
const ENVS = 'prevu:agent-keys:envs:';
const AGE = 'prevu:agent-keys:age:';
const HOLDERS = 'prevu:agent-keys:holders';
const TOTAL = 'prevu:agent-keys:total';
const DROPPED = 'prevu:agent-keys:dropped';
const PREFIXES = [RECORD, ENVS, AGE, HOLDERS, TOTAL];

// KEYS the prefixes above, in that order; ARGV[1] the channel of dropped keys.
// A holder's score is count * 2^42 + (2^42 - its oldest createdAt): the biggest holder ranks
// first, of two alike the one with the older key (createdAt in ms stays below 2^42 until 2109; a
// double holds it exactly for counts up to 2047).
const COMMON = `
local function rank(account)
  local n = redis.call('HLEN', KEYS[2] .. account)
  if n == 0 then redis.call('ZREM', KEYS[4], account) return end
  local oldest = redis.call('ZRANGE', KEYS[3] .. account, 0, 0, 'WITHSCORES')
  redis.call('ZADD', KEYS[4], string.format('%.0f', n * 4398046511104 + 4398046511104 - tonumber(oldest[2])), account)
end
-- out of every index; told to every node unless it is 'kept' (registered again)
local function drop(key, kept)
  local text = redis.call('GET', KEYS[1] .. key)
  if not text then return end
  local r = cjson.decode(text)
  redis.call('DEL', KEYS[1] .. key)
  if redis.call('HGET', KEYS[2] .. r.accountKey, r.envId) == key then redis.call('HDEL', KEYS[2] .. r.accountKey, r.envId) end
  redis.call('ZREM', KEYS[3] .. r.accountKey, key)
  redis.call('DECR', KEYS[5])
  rank(r.accountKey)
  if key ~= kept then redis.call('PUBLISH', ARGV[1], key) end
end
`;

// ARGV channel, key, account key, envId, record JSON, createdAt, per-account, total. The same
// rules as AgentKeys.register: the key and the env's earlier key go first (both the account's own).
const REGISTER = `${COMMON}
local key, account, env = ARGV[2], ARGV[3], ARGV[4]
local taken = redis.call('GET', KEYS[1] .. key)
if taken and cjson.decode(taken).accountKey ~= account then return 'taken' end
local earlier = redis.call('HGET', KEYS[2] .. account, env)
local held = redis.call('HLEN', KEYS[2] .. account)
if taken then held = held - 1 end
if earlier and earlier ~= key then held = held - 1 end
if held >= tonumber(ARGV[7]) then return 'per-account' end
drop(key, key)
if earlier then drop(earlier, key) end
if tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[8]) then
  local holder = redis.call('ZREVRANGE', KEYS[4], 0, 0)[1]
  drop(redis.call('ZRANGE', KEYS[3] .. holder, 0, 0)[1], key)
end
redis.call('SET', KEYS[1] .. key, ARGV[5])
redis.call('HSET', KEYS[2] .. account, env, key)
redis.call('ZADD', KEYS[3] .. account, ARGV[6], key)
redis.call('INCR', KEYS[5])
rank(account)
return 'ok'`;

// ARGV channel, account key, envId.
const REVOKE = `${COMMON}
local key = redis.call('HGET', KEYS[2] .. ARGV[2], ARGV[3])
if not key then return 0 end
drop(key, '')
return 1`;

type Script = (...args: Array<string | number>) => Promise<unknown>;
interface Scripts {
  prevuAgentKeyRegister: Script;
  prevuAgentKeyRevoke: Script;
}

export class RedisAgentKeys implements AgentKeyStore {
  private readonly scripts: Scripts;
  private readonly droppedListeners: Array<(key: string) => void> = [];
  private readonly recheckListeners: Array<() => void> = [];
  /** Keys this node last saw as agent keys: while Redis is away, these are refused (auth.ts). */
  private readonly known = new Set<string>();

  constructor(
    private readonly directory: Directory,
    private readonly log: Logger,
    private readonly limits: AgentKeyLimits = LIMITS,
  ) {
    directory.redis.defineCommand('prevuAgentKeyRegister', { numberOfKeys: PREFIXES.length, lua: REGISTER });
    directory.redis.defineCommand('prevuAgentKeyRevoke', { numberOfKeys: PREFIXES.length, lua: REVOKE });
    this.scripts = directory.redis as unknown as Scripts;
    directory.listen(DROPPED, (message) => {
      const key = storedSchema.shape.key.safeParse(message);
      if (!key.success) return void this.log.warn('unreadable dropped agent key message ignored');
      this.known.delete(key.data);
      for (const listener of this.droppedListeners) listener(key.data);
    });
  }

  async lookup(keyBlob: Buffer): Promise<AgentKeyRecord | undefined> {
    const key = keyBlob.toString('base64');
    let text: string | null;
    try {
      text = await logged(this.log, 'agent key lookup', this.directory.redis.get(`${RECORD}${key}`));
    } catch {
      throw new AgentKeysUnavailable(this.known.has(key));
    }
    const record = text === null ? undefined : this.parse(text, key);
    if (!record) return void this.known.delete(key);
    // bounded like the table: the first seen goes first
    if (!this.known.has(key) && this.known.size >= this.limits.total) this.known.delete(this.known.values().next().value!);
    this.known.add(key);
    return record;
  }

  /** A record as stored, checked: another node (or whoever reaches Redis) wrote it. */
  private parse(text: string, key: string): AgentKeyRecord | undefined {
    let parsed;
    try {
      parsed = storedSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success && parsed.data.key === key) return parsed.data;
    this.log.warn({ key }, 'unreadable agent key record in redis ignored');
    return undefined;
  }

  async register(account: { accountId: string; keyBlob: Buffer }, envId: string, registration: Registration): Promise<void> {
    const key = checkRegistration(account, envId, registration);
    const accountKey = account.keyBlob.toString('base64');
    const record: AgentKeyRecord = { key, accountId: account.accountId, accountKey, envId, createdAt: Date.now() };
    const run = this.scripts.prevuAgentKeyRegister(...PREFIXES, DROPPED, key, accountKey, envId, JSON.stringify(record), record.createdAt, this.limits.perAccount, this.limits.total);
    const outcome = await logged(this.log, 'agent key registration', run);
    if (outcome === 'taken') throw refusals.taken();
    if (outcome === 'per-account') throw refusals.perAccount(account.accountId, this.limits.perAccount);
  }

  async revoke(account: { keyBlob: Buffer }, envId: string): Promise<number> {
    const run = this.scripts.prevuAgentKeyRevoke(...PREFIXES, DROPPED, account.keyBlob.toString('base64'), envId);
    return Number(await logged(this.log, 'agent key revocation', run));
  }

  onDropped(listener: (key: string) => void): void {
    this.droppedListeners.push(listener);
  }

  onRecheck(listener: () => void): void {
    this.recheckListeners.push(listener);
  }

  /** This node hears Redis again: drops told meanwhile were missed. */
  recheck(): void {
    for (const listener of this.recheckListeners) listener();
  }
}
