// RedisAgentKeys (cluster/redis-agent-keys.ts) keeps the rules of the state dir's AgentKeys: the
// same registrations and revocations, given to both (a Debian redis-server on loopback for the
// one), are refused alike and drop the same keys in the same order, evictions of the biggest
// holder's oldest key, replacements and keys moving between envs included.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { agentKeyRegistration, ensureAgentKey } from '@prevu/core/agent-key';
import { startRedis, useKit, waitFor } from '@prevu/test-kit';
import { AgentKeys, type AgentKeyStore } from '../src/agent-keys.js';
import { Directory } from '../src/cluster/directory.js';
import { RedisAgentKeys } from '../src/cluster/redis-agent-keys.js';
import { makeAccount } from './harness.js';

const kit = useKit();
afterEach(() => vi.restoreAllMocks());

describe('agent keys in Redis', () => {
  it('refuse and drop what the state dir does, step by step', async () => {
    const redis = await startRedis(kit);
    const log = pino({ level: 'silent' });
    const directory = new Directory(redis.url, 'test:1#0', log, { takenOver: () => undefined, redisBack: () => undefined, resubscribed: () => undefined });
    const limits = { perAccount: 3, total: 7 };
    const stores: Record<'file' | 'redis', AgentKeyStore> = { file: AgentKeys.load(mkdtempSync(join(tmpdir(), 'prevu-state-')), limits), redis: new RedisAgentKeys(directory, log, limits) };
    await directory.start();
    kit.defer('directory', () => directory.close());
    const dropped = { file: [] as string[], redis: [] as string[] };
    stores.file.onDropped((key) => dropped.file.push(key));
    stores.redis.onDropped((key) => dropped.redis.push(key));
    // One clock a millisecond a call: which key is the oldest never rests on a tie.
    let now = 1_700_000_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now++);

    const accounts = [0, 1, 2, 3].map(() => makeAccount());
    const keys = Array.from({ length: 12 }, () => 0).map(() => ensureAgentKey(mkdtempSync(join(tmpdir(), 'prevu-env-'))));
    const envs = ['a', 'b', 'c', 'd', 'e'];
    let seed = 21;
    // an LCG's high bits (its low ones repeat every few steps)
    const pick = <T,>(from: T[]) => from[Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 16) % from.length]!;
    const outcome = async (step: () => unknown) => {
      try {
        return String(await step());
      } catch (error) {
        return (error as Error).message;
      }
    };
    const outcomes = new Set<string>();
    for (let i = 0; i < 120; i++) {
      const account = pick([accounts[0]!, ...accounts]); // the first one holds the most
      const who = { accountId: account.accountId, keyBlob: account.blob };
      const env = pick(envs);
      const registration = agentKeyRegistration(pick(keys), account.accountId, env);
      const revoking = pick([false, false, false, true]);
      const step = (store: AgentKeyStore) => () => (revoking ? store.revoke(who, env) : store.register(who, env, registration));
      const [file, inRedis] = [await outcome(step(stores.file)), await outcome(step(stores.redis))];
      expect(inRedis, `step ${i}`).toBe(file);
      outcomes.add(file.replace(/account \w+/, 'account'));
      await waitFor(`the drops of step ${i}`, async () => (dropped.redis.length >= dropped.file.length ? true : undefined), 5000);
      expect(dropped.redis, `step ${i}`).toEqual(dropped.file);
    }
    // every rule was met on the way: refusals of both kinds, revocations, evictions
    expect([...outcomes].sort()).toEqual(['0', '1', 'account already has agent keys for 3 envs; `prevu down` revokes an env\'s key', 'agent-key: this key is another account\'s agent key', 'undefined']);
    expect(dropped.file.length).toBeGreaterThan(10);
    // the same bindings at the end (each store read its own tick of the clock)
    const binding = async (store: AgentKeyStore, blob: Buffer) => {
      const record = await store.lookup(blob);
      return record && { ...record, createdAt: 0 };
    };
    for (const key of keys) {
      const blob = (ssh2.utils.parseKey(key.publicKey) as ssh2.ParsedKey).getPublicSSH();
      expect(await binding(stores.redis, blob)).toEqual(await binding(stores.file, blob));
    }
  });
});
