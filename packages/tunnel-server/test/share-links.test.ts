// The share-link store: bounded per key (its full fingerprint) and in all, by flags, so a few keys
// cannot fill the table for everyone and a key made to collide on the accountId shares nothing;
// a revoked record is gone at once and after a restart.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalCounters } from '../src/counters.js';
import { ShareLinks, stateDirShares } from '../src/share-links.js';

const record = (n: number, extra: { service?: string } = {}) => ({ id: `id${String(n).padStart(22, '0')}`, ...extra, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
const limits = { perAccount: 2, total: 3 };
const load = (dir: string, given = limits) => new ShareLinks(stateDirShares(dir), new LocalCounters(), given);

describe('ShareLinks', () => {
  it('refuses past the per-key and the total limit, counting by key fingerprint', async () => {
    const store = load(mkdtempSync(join(tmpdir(), 'prevu-share-')));
    await store.register('SHA256:a', 'env', record(1));
    await store.register('SHA256:a', 'env', { ...record(2), salt: 'c2FsdA', hash: 'aGFzaA' });
    await expect(store.register('SHA256:a', 'env', record(3))).rejects.toThrow(/this key already has 2 live share links/);
    await store.register('SHA256:b', 'env', record(1));
    await expect(store.register('SHA256:c', 'env', record(1))).rejects.toThrow(/already keeps 3 share links/);
    // Revoking frees the key's room.
    expect(await store.revoke('SHA256:a', record(1).id)).toBe(true);
    await store.register('SHA256:a', 'env', record(3));
  });

  it('answers for live records of the key, env and service; revoked ones are gone, across a reload too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prevu-share-'));
    const store = load(dir, { perAccount: 10, total: 10 });
    await store.register('SHA256:a', 'shop', record(1, { service: 'web' }));
    await store.register('SHA256:a', 'shop', record(2));
    await expect(store.register('SHA256:a', 'shop', record(2))).rejects.toThrow(/id is taken/);
    const { id } = record(1);
    expect(await store.live('SHA256:a', 'shop', 'web', id)).toBeDefined();
    expect(await store.live('SHA256:a', 'shop', 'api', id)).toBeUndefined();
    expect(await store.live('SHA256:a', 'blog', 'web', id)).toBeUndefined();
    expect(await store.live('SHA256:b', 'shop', 'web', id)).toBeUndefined();
    expect(await store.live('SHA256:a', 'shop', 'api', record(2).id)).toBeDefined();
    expect((await store.list('SHA256:a')).map((l) => [l.id, l.service ?? '*', l.password])).toEqual([
      [id, 'web', false],
      [record(2).id, '*', false],
    ]);
    expect(await store.list('SHA256:b')).toEqual([]);
    expect(await store.revoke('SHA256:b', id)).toBe(false);
    expect(await store.revoke('SHA256:a', id)).toBe(true);
    expect(await store.live('SHA256:a', 'shop', 'web', id)).toBeUndefined();
    const again = load(dir, { perAccount: 10, total: 10 });
    expect((await again.list('SHA256:a')).map((l) => l.id)).toEqual([record(2).id]);
  });
});
