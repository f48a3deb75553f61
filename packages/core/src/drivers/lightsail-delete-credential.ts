// The dedicated credential a Lightsail env's agent deletes its own instance with when its TTL
// passes (compose-tunnel-agent/src/lightsail-self-delete.ts). The machine runs the PR's code, so
// it must be able to do nothing but delete prevu's instances: site/docs/drivers.md gives its IAM
// policy. It comes from the CLI's environment (a CI secret, a shell), never from the profile file,
// and reaches the machine as the compose secret prevu_lightsail_delete (a 0600 file), never as an
// environment variable or in a log.
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../errors.js';

export const DELETE_KEY_ID_ENV = 'PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID';
export const DELETE_SECRET_ENV = 'PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY';
/** The Lightsail endpoint the agent deletes with, when the instance reaches the API by another address than the CLI (a proxy, a stand-in). */
export const AGENT_ENDPOINT_ENV = 'PREVU_LIGHTSAIL_AGENT_ENDPOINT';

export interface DeleteCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The credential from the environment; undefined when neither variable is set. */
export function deleteCredential(env: NodeJS.ProcessEnv = process.env): DeleteCredential | undefined {
  const accessKeyId = env[DELETE_KEY_ID_ENV]?.trim();
  const secretAccessKey = env[DELETE_SECRET_ENV]?.trim();
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) throw errors.deleteCredentialIncomplete(accessKeyId ? DELETE_SECRET_ENV : DELETE_KEY_ID_ENV);
  if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId)) throw errors.deleteCredentialInvalid(DELETE_KEY_ID_ENV);
  return { accessKeyId, secretAccessKey };
}

/** The endpoint the agent deletes with: PREVU_LIGHTSAIL_AGENT_ENDPOINT, else the CLI's own (`cliEndpoint`), else AWS's. */
export function agentEndpoint(cliEndpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const text = env[AGENT_ENDPOINT_ENV]?.trim();
  if (!text) return cliEndpoint;
  const url = URL.parse(text);
  if (!url || !['http:', 'https:'].includes(url.protocol)) throw errors.agentEndpointInvalid(AGENT_ENDPOINT_ENV, text);
  return text;
}

/** Writes the credential for the compose secret (the agent reads it as JSON) and returns the file; without one, removes a file an earlier `up` wrote. */
export function writeDeleteCredential(dir: string, credential: DeleteCredential | undefined): string | undefined {
  const file = join(dir, 'lightsail-delete.json');
  if (!credential) {
    rmSync(file, { force: true });
    return undefined;
  }
  writeFileSync(file, JSON.stringify(credential), { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
