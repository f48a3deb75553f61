// Agent keys: the account key never leaves the laptop or CI job. `prevu up` makes one key per env
// and registers it here over SSH as the account (`exec agent-key`, with the key's own signature
// over the account and env as proof that the registrant holds it); the env's agent then logs in
// with that key and is that account, for that env only. Records live in the state dir, so a
// restart keeps agents connecting; `prevu down` revokes the env's key (`exec agent-key-revoke`).
// A cluster (--redis) keeps them in Redis instead (cluster/redis-agent-keys.ts): AgentKeyStore.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { agentKeyStatement } from '@prevu/core/tunnel-protocol';
import { RegistrationError, writeAtomically } from './share-links.js';

const STORE_FILE = 'agent_keys.json';

/**
 * Envs with an agent key, per account key and in all. When the table is full (on an open server,
 * anyone can bring fresh account keys), a registration evicts the oldest key of the account holding
 * the most: a flood of new accounts wears down the biggest holders, never one within its fair share.
 */
export interface AgentKeyLimits {
  perAccount: number;
  total: number;
}
export const LIMITS: AgentKeyLimits = { perAccount: 500, total: 50_000 };

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);
/** What `exec agent-key` reads on stdin (AgentKeyRegistration). */
export const agentKeySchema = z.object({
  publicKey: z.string().regex(/^ssh-ed25519 [A-Za-z0-9+/]{68}$/, 'must be an ssh-ed25519 public key line'),
  proof: base64.max(200),
});
export const storedSchema = z.object({ key: base64, accountId: z.string(), accountKey: base64, envId: z.string(), createdAt: z.number() });
export type AgentKeyRecord = z.infer<typeof storedSchema>;

export type Registration = z.infer<typeof agentKeySchema>;

/** Where agent keys live: this node's state dir (AgentKeys), or a cluster's Redis (RedisAgentKeys). */
export interface AgentKeyStore {
  /** The account and env this key is an agent key of; undefined for any other key. Rejects with AgentKeysUnavailable when it cannot tell. */
  lookup(keyBlob: Buffer): AgentKeyRecord | undefined | Promise<AgentKeyRecord | undefined>;
  /** Binds an agent key to the account (the connection's key) and env; the env's earlier key stops working. */
  register(account: { accountId: string; keyBlob: Buffer }, envId: string, registration: Registration): void | Promise<void>;
  /** Forgets the env's agent key; how many were dropped. */
  revoke(account: { keyBlob: Buffer }, envId: string): number | Promise<number>;
  /** Called with each key (base64 blob) that stops being an agent key: replaced or revoked (in a cluster, at any node). */
  onDropped(listener: (key: string) => void): void;
  /** Called when drops may have been missed (a cluster node back in touch with Redis): live logins are to be looked up again. */
  onRecheck?(listener: () => void): void;
}

/** The store cannot tell now (a cluster's Redis does not answer); `wasAgentKey`: this node last saw the key as one. */
export class AgentKeysUnavailable extends Error {
  constructor(readonly wasAgentKey: boolean) {
    super('agent keys cannot be looked up now');
  }
}

/** The key a registration binds (base64 blob), once its proof and owner are checked; throws a RegistrationError. */
export function checkRegistration(account: { accountId: string; keyBlob: Buffer }, envId: string, registration: Registration): string {
  const key = registration.publicKey.split(' ')[1]!;
  const parsed = ssh2.utils.parseKey(Buffer.from(key, 'base64'));
  if (parsed instanceof Error || Array.isArray(parsed)) throw new RegistrationError('agent-key: publicKey is not a key');
  if (parsed.verify(Buffer.from(agentKeyStatement(account.accountId, envId)), Buffer.from(registration.proof, 'base64')) !== true) {
    throw new RegistrationError(`agent-key: proof is not the key's signature over "${agentKeyStatement(account.accountId, envId)}"`);
  }
  // the account key as an agent key would lock its owner out of every other env
  if (key === account.keyBlob.toString('base64')) throw new RegistrationError('agent-key: that is the account key itself; register a key of its own for the agent');
  return key;
}

export const refusals = {
  taken: () => new RegistrationError('agent-key: this key is another account\'s agent key'),
  perAccount: (accountId: string, perAccount: number) => new RegistrationError(`account ${accountId} already has agent keys for ${perAccount} envs; \`prevu down\` revokes an env's key`),
};

/** A lone node's agent keys, in its state dir. */
export class AgentKeys implements AgentKeyStore {
  private readonly droppedListeners: Array<(key: string) => void> = [];

  private constructor(
    private readonly stateDir: string,
    /** base64 key blob -> record */
    private readonly records: Map<string, AgentKeyRecord>,
    private readonly limits: AgentKeyLimits,
  ) {}

  static load(stateDir: string, limits: AgentKeyLimits = LIMITS): AgentKeys {
    const records = new Map<string, AgentKeyRecord>();
    try {
      const parsed = z.array(storedSchema).safeParse(JSON.parse(readFileSync(join(stateDir, STORE_FILE), 'utf8')));
      if (parsed.success) for (const r of parsed.data) records.set(r.key, r);
    } catch {
      // none yet (or unreadable): agents log in again once `prevu up` registers their keys
    }
    return new AgentKeys(stateDir, records, limits);
  }

  lookup(keyBlob: Buffer): AgentKeyRecord | undefined {
    return this.records.get(keyBlob.toString('base64'));
  }

  register(account: { accountId: string; keyBlob: Buffer }, envId: string, registration: Registration): void {
    const key = checkRegistration(account, envId, registration);
    const accountKey = account.keyBlob.toString('base64');
    const taken = this.records.get(key);
    if (taken && taken.accountKey !== accountKey) throw refusals.taken();
    const next = new Map([...this.records].filter(([, r]) => r.key !== key && !(r.accountKey === accountKey && r.envId === envId)));
    // counted by the full account key, not the 50-bit accountId
    const { perAccount, total } = this.limits;
    if ([...next.values()].filter((r) => r.accountKey === accountKey).length >= perAccount) throw refusals.perAccount(account.accountId, perAccount);
    if (next.size >= total) next.delete(oldestOfBiggestHolder(next.values()).key);
    next.set(key, { key, accountId: account.accountId, accountKey, envId, createdAt: Date.now() });
    this.save(next);
  }

  revoke(account: { keyBlob: Buffer }, envId: string): number {
    const accountKey = account.keyBlob.toString('base64');
    const next = new Map([...this.records].filter(([, r]) => !(r.accountKey === accountKey && r.envId === envId)));
    const dropped = this.records.size - next.size;
    if (dropped) this.save(next);
    return dropped;
  }

  onDropped(listener: (key: string) => void): void {
    this.droppedListeners.push(listener);
  }

  private save(next: Map<string, AgentKeyRecord>): void {
    // Stored first: a key the file does not hold would stop working at the next restart.
    writeAtomically(join(this.stateDir, STORE_FILE), JSON.stringify([...next.values()]));
    const dropped = [...this.records.keys()].filter((k) => !next.has(k));
    this.records.clear();
    for (const [k, r] of next) this.records.set(k, r);
    for (const key of dropped) for (const listener of this.droppedListeners) listener(key);
  }
}

/** The oldest record of the account key holding the most records (of two alike, the older record). */
function oldestOfBiggestHolder(records: Iterable<AgentKeyRecord>): AgentKeyRecord {
  const byAccount = new Map<string, AgentKeyRecord[]>();
  for (const r of records) {
    const mine = byAccount.get(r.accountKey);
    if (mine) mine.push(r);
    else byAccount.set(r.accountKey, [r]);
  }
  const oldest = (rs: AgentKeyRecord[]) => rs.reduce((a, b) => (b.createdAt < a.createdAt ? b : a));
  let pick: AgentKeyRecord[] = [];
  for (const rs of byAccount.values()) {
    if (rs.length > pick.length || (rs.length === pick.length && oldest(rs).createdAt < oldest(pick).createdAt)) pick = rs;
  }
  return oldest(pick);
}
