// The agent's Lightsail self-delete (issue 16): at the `expired` event of its EventLog the agent
// deletes its own instance with the dedicated credential, through the real
// @aws-sdk/client-lightsail against the test kit's Lightsail stand-in (SigV4 checked). The
// module is called directly: the event comes from the agent's TTL, which lands separately.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CreateInstancesCommand, LightsailClient } from '@aws-sdk/client-lightsail';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { startLightsailStandIn, useKit, type LightsailStandIn } from '@prevu/test-kit';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';
import { loadConfig } from '../src/config.js';
import { EventLog } from '../src/event-log.js';
import { deleteOnExpiry, type SelfDeleteSettings } from '../src/lightsail-self-delete.js';

const kit = useKit();
// The stand-in knows this one key pair: it plays the dedicated delete-only credential.
const DELETER = { accessKeyId: 'AKIAPREVUDELETER0001', secretAccessKey: 'prevu-deleter-secret-do-not-log' };
let standIn: LightsailStandIn;
let endpoint: string;

/** A logger whose lines the test reads (to check what is said, and that the secret never is). */
function capture(): { log: pino.Logger; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), text: () => text };
}

async function createInstance(name: string, envId: string): Promise<void> {
  const client = new LightsailClient({ region: 'us-east-1', endpoint, credentials: { ...DELETER } });
  await client.send(new CreateInstancesCommand({ instanceNames: [name], availabilityZone: 'us-east-1a', bundleId: 'nano_3_0', blueprintId: 'debian_12', tags: [{ key: 'prevu:env', value: envId }, { key: 'prevu:profile', value: 'team' }] }));
  client.destroy();
}

const settings = (instanceName: string, credentials = DELETER): SelfDeleteSettings => ({ instanceName, region: 'us-east-1', endpoint, credentials });
const fast = { timeoutMs: 5_000, intervalMs: 50, growth: 1, maxIntervalMs: 50 };

beforeAll(async () => {
  standIn = await startLightsailStandIn(kit, { sshHost: '127.0.0.1', sshPort: 22, credentials: DELETER });
  endpoint = standIn.env().AWS_ENDPOINT_URL_LIGHTSAIL!;
});

describe('Lightsail self-delete at the TTL', () => {
  it('deletes its own instance at `expired` (no other event), and only its own', async () => {
    await createInstance('prevu-team-shop-a', 'shop-a');
    await createInstance('prevu-team-shop-b', 'shop-b');
    const events = new EventLog('shop-a');
    const { log, text } = capture();
    const { done } = deleteOnExpiry(events, settings('prevu-team-shop-a'), log, fast);
    events.emit('starting', 'web');
    events.emit('healthy', 'web');
    events.emit('sleeping', undefined, { idleSeconds: 60 });
    expect(standIn.operations()).not.toContain('DeleteInstance');
    events.emit('expired', undefined, { expiresAt: new Date().toISOString() });
    await done;
    expect(standIn.calls.filter((c) => c.operation === 'DeleteInstance')).toEqual([expect.objectContaining({ input: { instanceName: 'prevu-team-shop-a' }, status: 200, region: 'us-east-1' })]);
    expect(standIn.instances().map((i) => i.name)).toEqual(['prevu-team-shop-b']);
    expect(text()).toContain('Lightsail instance deleted');
    // a second `expired` (the agent restarted, the history replayed) deletes nothing more
    events.emit('expired');
    expect(standIn.calls.filter((c) => c.operation === 'DeleteInstance')).toHaveLength(1);
    expect(text()).not.toContain(DELETER.secretAccessKey);
  });

  it('an instance already gone (down, gc) is the goal; a throttled call is tried again', async () => {
    const gone = new EventLog('shop-gone');
    const first = deleteOnExpiry(gone, settings('prevu-team-shop-gone'), capture().log, fast);
    gone.emit('expired');
    await first.done;
    expect(standIn.calls.at(-1)).toMatchObject({ operation: 'DeleteInstance', status: 404 });

    await createInstance('prevu-team-shop-c', 'shop-c');
    standIn.failNext('DeleteInstance', 'ServiceException', 4);
    const events = new EventLog('shop-c');
    const { log, text } = capture();
    const { done } = deleteOnExpiry(events, settings('prevu-team-shop-c'), log, fast);
    events.emit('expired');
    await done;
    expect(standIn.instances().map((i) => i.name)).not.toContain('prevu-team-shop-c');
    expect(text()).toContain('trying again');
  });

  it('a credential the stand-in does not know: one error line, no retry loop, no secret in the log', async () => {
    await createInstance('prevu-team-shop-d', 'shop-d');
    const events = new EventLog('shop-d');
    const { log, text } = capture();
    const wrong = { accessKeyId: 'AKIAPREVUNOTKNOWN001', secretAccessKey: 'prevu-wrong-secret-do-not-log' };
    const { done } = deleteOnExpiry(events, settings('prevu-team-shop-d', wrong), log, fast);
    const before = standIn.calls.length;
    events.emit('expired');
    await done;
    expect(standIn.calls.slice(before).map((c) => [c.operation, c.status])).toEqual([['DeleteInstance', 400]]);
    expect(standIn.instances().map((i) => i.name)).toContain('prevu-team-shop-d');
    expect(text()).toMatch(/could not delete this Lightsail instance: `prevu gc` removes it/);
    expect(text()).not.toContain(wrong.secretAccessKey);
  });
});

describe('self-delete settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-agent-selfdelete-'));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, ed25519KeyPair().private);
  const credentials = join(dir, 'lightsail-delete.json');
  writeFileSync(credentials, JSON.stringify(DELETER));
  const base = { PREVU_TUNNEL_SERVER: 'host.docker.internal:2222', PREVU_ENV_ID: 'shop-a', PREVU_COMPOSE_PROJECT: 'prevu-shop-a', PREVU_KEY_FILE: keyFile };
  const lightsail = { PREVU_LIGHTSAIL_INSTANCE: 'prevu-team-shop-a', PREVU_LIGHTSAIL_REGION: 'eu-west-1', PREVU_LIGHTSAIL_CREDENTIALS_FILE: credentials };
  const lineOf = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
      return 'loaded';
    } catch (error) {
      return (error as { line: string }).line;
    }
  };

  it('reads the instance, region, endpoint and the credential from its secret file; none of them: no self-delete', () => {
    expect(loadConfig(base).selfDelete).toBeUndefined();
    expect(loadConfig({ ...base, ...lightsail, PREVU_LIGHTSAIL_ENDPOINT: 'http://127.0.0.1:4566' }).selfDelete).toEqual({ instanceName: 'prevu-team-shop-a', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566', credentials: DELETER });
  });

  it('a bad setting is one line naming the variable; a bad secret file is never quoted', () => {
    expect(lineOf({ PREVU_LIGHTSAIL_INSTANCE: 'prevu-team-shop-a', PREVU_LIGHTSAIL_CREDENTIALS_FILE: credentials })).toMatch(/^PREVU_LIGHTSAIL_REGION is required with PREVU_LIGHTSAIL_INSTANCE: /);
    expect(lineOf({ ...lightsail, PREVU_LIGHTSAIL_REGION: 'mars' })).toMatch(/^PREVU_LIGHTSAIL_REGION must be an AWS region like eu-west-1 \(got "mars"\): /);
    expect(lineOf({ ...lightsail, PREVU_LIGHTSAIL_CREDENTIALS_FILE: join(dir, 'missing.json') })).toMatch(/^PREVU_LIGHTSAIL_CREDENTIALS_FILE .*missing\.json cannot be read \(ENOENT\): /);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ accessKeyId: 'short', secretAccessKey: 'a-secret-value' }));
    const line = lineOf({ ...lightsail, PREVU_LIGHTSAIL_CREDENTIALS_FILE: bad });
    expect(line).toMatch(/^PREVU_LIGHTSAIL_CREDENTIALS_FILE .*bad\.json is not \{"accessKeyId", "secretAccessKey"\} JSON: /);
    expect(line).not.toContain('a-secret-value');
  });
});
