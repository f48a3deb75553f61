// Public-key authentication. The key is the account (accountId = hash of its blob); the user
// name is the envId. Open mode takes any key; allow-list mode only keys in an authorized_keys file.
// An agent key (agent-keys.ts) is the account that registered it, for its one env only.
import { readFileSync } from 'node:fs';
import ssh2, { type AuthContext } from 'ssh2';
import { InvalidNameError, normalizeEnvId, accountIdFromKeyBlob } from '@prevu/core/names';
import type { AgentKeys } from '../agent-keys.js';

export interface Identity {
  accountId: string;
  envId: string;
  /** The account's key (an agent key's registrant): private tunnels' tokens are checked with it. */
  keyBlob: Buffer;
  /** The agent key (blob) it logged in with, if any: commands that act for the account are refused. */
  agentKey?: Buffer;
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

/**
 * Decides one authentication attempt. `proven` gets the identity before the accept, because ssh2
 * emits 'ready' synchronously inside ctx.accept().
 */
export function authenticate(ctx: AuthContext, allowList: Set<string> | undefined, agentKeys: AgentKeys, proven: (identity: Identity) => void): void {
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
  const agent = agentKeys.lookup(blob);
  if (agent && agent.envId !== envId) return ctx.reject(['publickey']);
  // an agent key was registered by a key the allow-list admitted
  if (!agent && allowList && !allowList.has(blob.toString('base64'))) {
    return ctx.reject(['publickey']);
  }
  const key = ssh2.utils.parseKey(blob);
  if (key instanceof Error || Array.isArray(key)) {
    return ctx.reject(['publickey']);
  }
  // Without a signature the client only asks whether the key would do; with one it proves it.
  if (!ctx.signature) return ctx.accept();
  if (key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
    return ctx.reject(['publickey']);
  }
  proven(agent ? { accountId: agent.accountId, envId, keyBlob: Buffer.from(agent.accountKey, 'base64'), agentKey: Buffer.from(blob) } : { accountId: accountIdFromKeyBlob(blob), envId, keyBlob: Buffer.from(blob) });
  ctx.accept();
}
