// The password store is bounded per key (its full fingerprint) and in all, by flags: a few keys
// cannot fill the table for everyone, and a key made to collide on the accountId shares nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SharePasswords } from '../src/share-passwords.js';

const record = (n: number) => ({ id: `id${String(n).padStart(22, '0')}`, salt: 'c2FsdA', hash: 'aGFzaA', expiresAt: Math.floor(Date.now() / 1000) + 3600 });

describe('SharePasswords limits', () => {
  it('refuses past the per-key and the total limit, counting by key fingerprint', () => {
    const store = SharePasswords.load(mkdtempSync(join(tmpdir(), 'prevu-pw-')), { perAccount: 2, total: 3 });
    store.register('SHA256:a', 'env', record(1));
    store.register('SHA256:a', 'env', record(2));
    expect(() => store.register('SHA256:a', 'env', record(3))).toThrow(/this key already has 2 live password links/);
    store.register('SHA256:b', 'env', record(1));
    expect(() => store.register('SHA256:c', 'env', record(1))).toThrow(/already keeps 3 password links/);
  });
});
