// The share-link store: bounded per key (its full fingerprint) and in all, by flags, so a few keys
// cannot fill the table for everyone and a key made to collide on the accountId shares nothing;
// a revoked record is gone at once and after a restart.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShareLinks } from '../src/share-links.js';

const record = (n: number, extra: { service?: string } = {}) => ({ id: `id${String(n).padStart(22, '0')}`, ...extra, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
const limits = { perAccount: 2, total: 3 };

describe('ShareLinks', () => {
  it('refuses past the per-key and the total limit, counting by key fingerprint', () => {
    const store = ShareLinks.load(mkdtempSync(join(tmpdir(), 'prevu-share-')), limits);
    store.register('SHA256:a', 'env', record(1));
    store.register('SHA256:a', 'env', { ...record(2), salt: 'c2FsdA', hash: 'aGFzaA' });
    expect(() => store.register('SHA256:a', 'env', record(3))).toThrow(/this key already has 2 live share links/);
    store.register('SHA256:b', 'env', record(1));
    expect(() => store.register('SHA256:c', 'env', record(1))).toThrow(/already keeps 3 share links/);
    // Revoking frees the key's room.
    expect(store.revoke('SHA256:a', record(1).id)).toBe(true);
    store.register('SHA256:a', 'env', record(3));
  });

  it('answers for live records of the key, env and service; revoked ones are gone, across a reload too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prevu-share-'));
    const store = ShareLinks.load(dir, { perAccount: 10, total: 10 });
    store.register('SHA256:a', 'shop', record(1, { service: 'web' }));
    store.register('SHA256:a', 'shop', record(2));
    expect(() => store.register('SHA256:a', 'shop', record(2))).toThrow(/id is taken/);
    const { id } = record(1);
    expect(store.live('SHA256:a', 'shop', 'web', id)).toBeDefined();
    expect(store.live('SHA256:a', 'shop', 'api', id)).toBeUndefined();
    expect(store.live('SHA256:a', 'blog', 'web', id)).toBeUndefined();
    expect(store.live('SHA256:b', 'shop', 'web', id)).toBeUndefined();
    expect(store.live('SHA256:a', 'shop', 'api', record(2).id)).toBeDefined();
    expect(store.list('SHA256:a').map((l) => [l.id, l.service ?? '*', l.password])).toEqual([
      [id, 'web', false],
      [record(2).id, '*', false],
    ]);
    expect(store.list('SHA256:b')).toEqual([]);
    expect(store.revoke('SHA256:b', id)).toBe(false);
    expect(store.revoke('SHA256:a', id)).toBe(true);
    expect(store.live('SHA256:a', 'shop', 'web', id)).toBeUndefined();
    const again = ShareLinks.load(dir, { perAccount: 10, total: 10 });
    expect(again.list('SHA256:a').map((l) => l.id)).toEqual([record(2).id]);
  });
});
