// The shared store (issue 22) with the real @aws-sdk/client-s3 against the S3 stand-in (s3rver
// behind the conditional-write and IAM layer of test-kit): two "machines" (two config folders)
// share one bucket; what one writes the other lists; a write over another writer's change is
// refused in one line; a refused IAM action is named. The folder store keeps the same contract.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startS3StandIn, uniqueName, useKit, type S3StandIn } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvStateStore, type EnvState } from '../src/env-state.js';
import { errors } from '../src/errors.js';
import { ProfileStore } from '../src/profiles.js';
import { FolderStore } from '../src/store/folder-store.js';
import type { ObjectStore } from '../src/store/object-store.js';
import { openStore } from '../src/store/open.js';
import { importProfile, publishProfile } from '../src/store/shared-profile.js';
import { parseStoreUrl } from '../src/store/store-url.js';
import { prevuFailure } from './prevu-failure.js';
import { tempDir } from './temp-dir.js';

const kit = useKit();
const BUCKET = 'prevu-store-test';
let s3: S3StandIn;

beforeAll(async () => {
  s3 = await startS3StandIn(kit, { buckets: [BUCKET] });
  Object.assign(process.env, s3.env);
});

const state = (envId: string, status: EnvState['status'] = 'deploying') => ({
  envId,
  profile: 'team',
  driver: 'local',
  project: `prevu-${envId}`,
  source: { dir: '/src' },
  accountId: 'abcdefghij',
  baseUrl: 'http://localhost:8080',
  status,
});

/** A machine: its own config folder, with the profile `team` made there and published to `url` (or imported from it). */
async function machine(url: string, from?: ProfileStore): Promise<ProfileStore> {
  const profiles = new ProfileStore(tempDir('prevu-machine-'));
  if (!from) {
    profiles.create({ name: 'team', driver: 'local', tunnelServer: { type: 'embedded' } });
    await publishProfile(profiles, 'team', url);
  } else {
    await importProfile(profiles, url, { privateKey: from.key('team').privateKey });
  }
  return profiles;
}

describe('the store URL', () => {
  it('is s3://bucket/prefix in one spelling; anything else is refused in one line', () => {
    expect(parseStoreUrl('s3://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b', url: 's3://my-bucket/a/b' });
    expect(parseStoreUrl('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '', url: 's3://my-bucket' });
    expect(() => parseStoreUrl('https://x/y')).toThrow(/^"https:\/\/x\/y" is not a store URL \(it must start with s3:\/\/\)$/);
    expect(() => parseStoreUrl('s3://My_Bucket/p')).toThrow(/a bucket name is 3-63 characters/);
    expect(() => parseStoreUrl('s3://bucket/../etc')).toThrow(/the prefix is path segments/);
  });
});

describe.each([
  ['S3 (real SDK, stand-in)', () => openStore(`s3://${BUCKET}/${uniqueName('contract')}`, '')],
  ['a folder', async () => new FolderStore(tempDir('prevu-folder-store-'))],
] as [string, () => Promise<ObjectStore>][])('the object store contract: %s', (_name, open) => {
  it('creates once, replaces only the version read, deletes only the version read, lists by prefix', async () => {
    const store = await open();
    const v1 = await store.put('envs/a/state.json', '1', { ifNoneMatch: true });
    expect((await prevuFailure(store.put('envs/a/state.json', 'again', { ifNoneMatch: true }))).code).toBe(errors.storeConflict.code);
    const v2 = await store.put('envs/a/state.json', '2', { ifMatch: v1 });
    expect(await store.get('envs/a/state.json')).toEqual({ text: '2', etag: v2 });
    const stale = await prevuFailure(store.put('envs/a/state.json', 'lost', { ifMatch: v1 }));
    expect(stale.line).toMatch(/envs\/a\/state\.json was changed by another writer after this command read it, so this command's write was not made: run `prevu ls`/);
    await store.put('envs/b/state.json', 'b', { ifNoneMatch: true });
    await store.put('other.json', 'x', { ifNoneMatch: true });
    expect(await store.list('envs/')).toEqual(['envs/a/state.json', 'envs/b/state.json']);
    expect((await prevuFailure(store.delete('envs/a/state.json', v1))).code).toBe(errors.storeConflict.code);
    await store.delete('envs/a/state.json', v2);
    expect(await store.get('envs/a/state.json')).toBeUndefined();
    await store.delete('envs/a/state.json', v2); // gone already: done
    expect((await prevuFailure(store.put('envs/a/state.json', 'over a removed one', { ifMatch: v2 }))).code).toBe(errors.storeConflict.code);
  });

  it('of 8 writers that create the same key at once, exactly one wins and 7 are told', async () => {
    const store = await open();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put('envs/race/state.json', String(i), { ifNoneMatch: true })));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe(errors.storeConflict.code);
    expect((await store.get('envs/race/state.json'))?.text).toBe(String(won[0]));
  });
});

describe('two machines share a store profile', () => {
  it('the profile is published with its public key only; the other machine imports it with the key it was given', async () => {
    const url = `s3://${BUCKET}/${uniqueName('team')}`;
    const laptop = await machine(url);
    const stored = (await (await openStore(url, '')).get('profile.json'))!.text;
    expect(stored).not.toMatch(/PRIVATE KEY/);
    expect(JSON.parse(stored)).toEqual({ profile: expect.objectContaining({ name: 'team', store: url }), publicKey: laptop.key('team').publicKey });
    expect((await prevuFailure(publishProfile(laptop, 'team', url))).line).toBe(`${url} already holds a profile: use it with \`prevu profile import ${url}\`, or choose another prefix`);

    const ci = new ProfileStore(tempDir('prevu-machine-'));
    expect((await prevuFailure(importProfile(ci, url, {}))).code).toBe(errors.storeKeyMissing.code);
    const stranger = new ProfileStore(tempDir('prevu-machine-'));
    stranger.create({ name: 'team', driver: 'local', tunnelServer: { type: 'embedded' } });
    expect((await prevuFailure(importProfile(ci, url, { privateKey: stranger.key('team').privateKey }))).line).toMatch(/^the account key given is account \w{10}, the profile in s3:\/\/.* is account \w{10}: give that profile's key/);
    expect((await prevuFailure(importProfile(ci, `s3://${BUCKET}/nothing-here`, {}))).code).toBe(errors.storeNoProfile.code);
    await importProfile(ci, url, { privateKey: laptop.key('team').privateKey });
    expect(ci.read('team')).toEqual(laptop.read('team'));
    expect(ci.key('team').accountId).toBe(laptop.key('team').accountId);
    expect(readFileSync(join(ci.profileDir('team'), 'id_ed25519'), 'utf8')).toBe(laptop.key('team').privateKey);
  });

  it('what CI writes the laptop lists with the same fields; a write over the other\'s change is refused, not lost', async () => {
    const url = `s3://${BUCKET}/${uniqueName('team')}`;
    const laptop = await machine(url);
    const ci = await machine(url, laptop);
    const onCi = new EnvStateStore(ci, 'team');
    const written = await onCi.write(state('pr-12'));
    // what prevu could not have written is not listed: an invalid env id, a state filed under another env
    const raw = await openStore(url, '');
    await raw.put('envs/Not_An_Id/state.json', JSON.stringify({ ...written, envId: 'Not_An_Id' }), { ifNoneMatch: true });
    await raw.put('envs/pr-13/state.json', JSON.stringify(written), { ifNoneMatch: true });
    expect(await new EnvStateStore(laptop, 'team').list()).toEqual([written]);

    // CI's `up` read the state; meanwhile the laptop marks it failed: CI's next write is refused
    const onLaptop = new EnvStateStore(laptop, 'team');
    await onLaptop.setStatus('pr-12', 'failed', { code: 'X', line: 'x' });
    const lost = await prevuFailure(onCi.setStatus('pr-12', 'up'));
    expect(lost.line).toBe(`${url}/envs/pr-12/state.json was changed by another writer after this command read it, so this command's write was not made: run \`prevu ls\` to see what it is now, then run the command again`);
    expect((await new EnvStateStore(ci, 'team').read('pr-12'))?.status).toBe('failed');
    expect(s3.calls.filter((c) => c.key.endsWith('pr-12/state.json') && c.action === 's3:PutObject').map((c) => [c.condition?.split(':')[0], c.status])).toEqual([
      ['If-None-Match', 200],
      ['If-Match', 200],
      ['If-Match', 412],
    ]);

    // the laptop removes the env CI made; CI, which saw an older version, is told when it writes
    await onLaptop.remove('pr-12');
    expect(await new EnvStateStore(ci, 'team').list()).toEqual([]);
  });

  it('a refused IAM action is named with the bucket, in one line', async () => {
    const url = `s3://${BUCKET}/${uniqueName('team')}`;
    const laptop = await machine(url);
    const states = new EnvStateStore(laptop, 'team');
    const denied = async (action: string, run: () => Promise<unknown>) => {
      s3.deny.add(action);
      try {
        return (await prevuFailure(run())).line;
      } finally {
        s3.deny.delete(action);
      }
    };
    const prefix = url.slice(`s3://${BUCKET}/`.length);
    expect(await denied('s3:PutObject', () => states.write(state('pr-1')))).toBe(
      `S3 denied s3:PutObject on bucket ${BUCKET}: allow s3:PutObject on arn:aws:s3:::${BUCKET}/${prefix}/envs/pr-1/state.json in the IAM policy of these credentials`,
    );
    expect(await denied('s3:ListBucket', () => states.list())).toBe(`S3 denied s3:ListBucket on bucket ${BUCKET}: allow s3:ListBucket on arn:aws:s3:::${BUCKET} in the IAM policy of these credentials`);
    expect(await denied('s3:GetObject', () => new EnvStateStore(laptop, 'team').read('pr-1'))).toMatch(/^S3 denied s3:GetObject on bucket /);
    await states.write(state('pr-1'));
    expect(await denied('s3:DeleteObject', () => states.remove('pr-1'))).toMatch(/^S3 denied s3:DeleteObject on bucket /);
    expect((await prevuFailure(openStore(`s3://no-such-bucket-${uniqueName('b')}/p`, '').then((s) => s.get('x')))).code).toBe(errors.storeNoBucket.code);
  });
});
