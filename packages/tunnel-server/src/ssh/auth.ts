// Public-key authentication. The key is the account (accountId = hash of its blob); the user
// name is the envId. Open mode takes any key; allow-list mode only keys in an authorized_keys file.
// Key types: ed25519, ECDSA, and RSA of 2048 bits or more signing with SHA-2 (rsa-sha2-256/512);
// DSA, short RSA and SHA-1 signatures are refused whatever the mode.
// An agent key (agent-keys.ts) is the account that registered it, for its one env only. Looking a
// key up may wait for a cluster's Redis: ssh2 takes the answer later, and a connection that closed
// meanwhile gets none.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ssh2, { type AuthContext } from 'ssh2';
import { InvalidNameError, normalizeEnvId, accountIdFromKeyBlob } from '@prevu/core/names';
import { sshFingerprint } from '@prevu/core/ssh-fingerprint';
import { errors } from '@prevu/core/errors';
import { AgentKeysUnavailable, type AgentKeyRecord, type AgentKeyStore } from '../agent-keys.js';

export interface Identity {
  accountId: string;
  /** `SHA256:...` of the key blob. */
  key: string;
  envId: string;
  /** The account's key (an agent key's registrant): private tunnels' tokens are checked with it. */
  keyBlob: Buffer;
  /** The agent key (blob) it logged in with, if any: commands that act for the account are refused. */
  agentKey?: Buffer;
  /** Logged in as an account key while the agent-key store could not tell: looked up again once it can. */
  unchecked?: true;
}

/** Key blobs (base64) from an authorized_keys file; options before the key type are ignored. */
export function loadAuthorizedKeys(path: string): Set<string> {
  const keys = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const at = fields.findIndex((f) => /^(ssh-|ecdsa-|sk-)/.test(f));
    if (line.trim().startsWith('#') || at < 0 || !fields[at + 1]) continue;
    const parsed = ssh2.utils.parseKey(`${fields[at]} ${fields[at + 1]}`);
    if (!(parsed instanceof Error)) keys.add((Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH().toString('base64'));
  }
  return keys;
}

const KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);
const MIN_RSA_BITS = 2048;

/** Whether a key of this type, signing this way, is strong enough to own an account. */
function acceptableKey(key: ssh2.ParsedKey, algo: string, hashAlgo: string | undefined): boolean {
  if (!KEY_TYPES.has(key.type) || key.type !== algo) return false;
  if (key.type !== 'ssh-rsa') return true;
  if (hashAlgo !== 'sha256' && hashAlgo !== 'sha512') return false; // `ssh-rsa` itself signs with SHA-1
  const bits = createPublicKey(key.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
  return bits >= MIN_RSA_BITS;
}

export interface AuthOptions {
  allowList: Set<string> | undefined;
  agentKeys: AgentKeyStore;
  /** Whether the connection closed while the lookup waited. */
  closed(): boolean;
  /** Gets the identity before the accept, because ssh2 emits 'ready' synchronously inside ctx.accept(). */
  proven(identity: Identity): void;
  /** Ends the connection with a reason its client reads. */
  refuse(description: string): void;
}

/** Decides one authentication attempt. */
export async function authenticate(ctx: AuthContext, options: AuthOptions): Promise<void> {
  if (ctx.method !== 'publickey') {
    return ctx.reject(['publickey']);
  }
  let envId: string;
  try {
    envId = normalizeEnvId(ctx.username);
  } catch (error) {
    if (!(error instanceof InvalidNameError)) throw error;
    return ctx.reject(['publickey']);
  }
  const blob = ctx.key.data;
  // before the lookup: a key that could never do costs no round trip to Redis
  const key = ssh2.utils.parseKey(blob);
  if (key instanceof Error || Array.isArray(key) || !acceptableKey(key, ctx.key.algo, ctx.hashAlgo)) {
    return ctx.reject(['publickey']);
  }
  let agent: AgentKeyRecord | undefined;
  let unavailable = false;
  let unchecked = false;
  try {
    agent = await options.agentKeys.lookup(blob);
  } catch (error) {
    if (!(error instanceof AgentKeysUnavailable)) throw error;
    // Fail closed for a key this node knows as an agent key: its revocation cannot be checked.
    // Any other key is what it is to a store that never saw it, an account key with no rights but
    // its own; it is looked up again when the store answers.
    if (error.wasAgentKey) unavailable = true;
    else unchecked = true;
  }
  if (options.closed()) return;
  if (agent && agent.envId !== envId) return ctx.reject(['publickey']);
  // an agent key was registered by a key the allow-list admitted
  if (!agent && !unavailable && options.allowList && !options.allowList.has(blob.toString('base64'))) {
    return ctx.reject(['publickey']);
  }
  // Without a signature the client only asks whether the key would do; with one it proves it.
  if (!ctx.signature) return ctx.accept();
  if (key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
    return ctx.reject(['publickey']);
  }
  // told only to whoever holds the key: its reason, so the agent waits and retries
  if (unavailable) return options.refuse(`${errors.serverAgentKeysUnavailable.code}: ${errors.serverAgentKeysUnavailable().line}`);
  if (agent) {
    // It acts as the account's key for its one env: isolation and takeover see the account key.
    const accountKey = Buffer.from(agent.accountKey, 'base64');
    options.proven({ accountId: agent.accountId, key: sshFingerprint(accountKey), envId, keyBlob: accountKey, agentKey: Buffer.from(blob) });
  } else {
    options.proven({ accountId: accountIdFromKeyBlob(blob), key: sshFingerprint(blob), envId, keyBlob: Buffer.from(blob), ...(unchecked ? { unchecked: true as const } : {}) });
  }
  ctx.accept();
}
