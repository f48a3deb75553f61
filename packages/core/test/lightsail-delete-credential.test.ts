// The delete-only credential a Lightsail env's agent deletes its instance with: from the CLI's
// environment, both halves or neither, written as a 0600 secret file; the endpoint the agent uses.
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentEndpoint, deleteCredential, writeDeleteCredential } from '../src/drivers/lightsail-delete-credential.js';
import { prevuFailure } from './prevu-failure.js';

const failing = (env: NodeJS.ProcessEnv) => Promise.resolve().then(() => deleteCredential(env));

describe('the Lightsail delete credential', () => {
  it('is read from both variables, or absent with neither', () => {
    expect(deleteCredential({})).toBeUndefined();
    expect(deleteCredential({ PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID: 'AKIAPREVUDELETER0001', PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY: ' s3cret ' })).toEqual({ accessKeyId: 'AKIAPREVUDELETER0001', secretAccessKey: 's3cret' });
  });

  it('half of it, or a key id that is none, is one line naming the variable (never the secret)', async () => {
    expect(await prevuFailure(failing({ PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID: 'AKIAPREVUDELETER0001' }))).toMatchObject({
      code: 'PREVU_DELETE_CREDENTIAL_INCOMPLETE',
      line: expect.stringMatching(/^PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY is not set, and the other half/),
    });
    const failure = await prevuFailure(failing({ PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID: 'my secret', PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY: 'x' }));
    expect(failure).toMatchObject({ code: 'PREVU_DELETE_CREDENTIAL_INVALID', line: expect.stringMatching(/^PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID is not an AWS access key id: /) });
    expect(failure.line).not.toContain('my secret');
  });

  it('the agent deletes through PREVU_LIGHTSAIL_AGENT_ENDPOINT when set, else the CLI\'s endpoint; not a URL is one line', async () => {
    expect(agentEndpoint(undefined, {})).toBeUndefined();
    expect(agentEndpoint('http://127.0.0.1:9', {})).toBe('http://127.0.0.1:9');
    expect(agentEndpoint('http://127.0.0.1:9', { PREVU_LIGHTSAIL_AGENT_ENDPOINT: ' http://host.docker.internal:9 ' })).toBe('http://host.docker.internal:9');
    for (const bad of ['lightsail.example', 'ftp://x.example']) {
      expect(await prevuFailure(Promise.resolve().then(() => agentEndpoint(undefined, { PREVU_LIGHTSAIL_AGENT_ENDPOINT: bad })))).toMatchObject({
        code: 'PREVU_AGENT_ENDPOINT_INVALID',
        line: `PREVU_LIGHTSAIL_AGENT_ENDPOINT "${bad}" is not an http(s) URL: set it to the Lightsail API address as the instance reaches it (https://...), or unset it to use the CLI's`,
      });
    }
  });

  it('is written as JSON, readable by its owner only; an up without it removes the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prevu-delete-credential-'));
    const file = writeDeleteCredential(dir, { accessKeyId: 'AKIAPREVUDELETER0001', secretAccessKey: 's3cret' })!;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ accessKeyId: 'AKIAPREVUDELETER0001', secretAccessKey: 's3cret' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(writeDeleteCredential(dir, undefined)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });
});
