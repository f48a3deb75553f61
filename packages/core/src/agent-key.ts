// The env's agent key: the key the agent on the machine logs in to the tunnel server with, so the
// account key never leaves this laptop or CI job. One per env, kept in the env's local dir (a
// second `up` reuses it) and registered with the server over SSH as the account (`exec
// agent-key`, with the agent key's own signature as proof of holding it); `down` revokes it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { errors } from './errors.js';
import { ed25519KeyPair } from './ssh-keys.js';
import { agentKeyStatement, type AgentKeyRegistration } from './tunnel-protocol.js';

export interface AgentKey {
  /** The private key file (mode 0600): what is uploaded and mounted as the agent's secret. */
  file: string;
  privateKey: string;
  /** `ssh-ed25519 AAAA...` */
  publicKey: string;
}

/** The env's agent key in `dir`, made on first use. */
export function ensureAgentKey(dir: string): AgentKey {
  const file = join(dir, 'agent_ed25519');
  try {
    // mode at creation; `wx`: an existing key (an earlier `up`, or a racing one) is kept
    writeFileSync(file, ed25519KeyPair('prevu-agent').private, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const privateKey = readFileSync(file, 'utf8');
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw errors.sshKeyInvalid(file, `${parsed instanceof Error ? parsed.message : 'several keys'}; delete it and run up again`);
  return { file, privateKey, publicKey: `ssh-ed25519 ${parsed.getPublicSSH().toString('base64')}` };
}

/** What `exec agent-key` reads: the public key and its signature over the account and env. */
export function agentKeyRegistration(key: Pick<AgentKey, 'privateKey' | 'publicKey'>, accountId: string, envId: string): AgentKeyRegistration {
  const parsed = ssh2.utils.parseKey(key.privateKey) as ssh2.ParsedKey;
  return { publicKey: key.publicKey, proof: parsed.sign(Buffer.from(agentKeyStatement(accountId, envId))).toString('base64') };
}
