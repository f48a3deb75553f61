import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { sshFingerprint } from '../src/ssh-fingerprint.js';
import { ed25519KeyPair } from '../src/ssh-keys.js';

describe('ssh keys', () => {
  // ssh2 alone makes an unreadable pair about once in 256 (mscdex/ssh2#1513): 1,000 pairs
  // would hit it with 98% odds, so this test fails without the retry.
  it('every ed25519 pair is readable by ssh2', () => {
    for (let i = 0; i < 1000; i++) {
      const pair = ed25519KeyPair();
      expect(ssh2.utils.parseKey(pair.public)).not.toBeInstanceOf(Error);
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
    }
  });

  it('fingerprints a public key exactly as ssh-keygen -lf does', () => {
    const pair = ed25519KeyPair('fp');
    const file = join(mkdtempSync(join(tmpdir(), 'prevu-fp-')), 'key.pub');
    writeFileSync(file, `${pair.public}\n`);
    const openssh = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' }).split(' ')[1];
    expect(sshFingerprint(Buffer.from(pair.public.split(' ')[1]!, 'base64'))).toBe(openssh);
  });
});
