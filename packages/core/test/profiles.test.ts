import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signAccessToken, verifyAccessToken } from '../src/access-token.js';
import { accountIdOfPublicKey, configDir, ProfileStore } from '../src/profiles.js';
import { tempDir } from './temp-dir.js';
import ssh2 from 'ssh2';

describe('profiles', () => {
  it('lives under $XDG_CONFIG_HOME/prevu, else ~/.config/prevu', () => {
    expect(configDir({ XDG_CONFIG_HOME: '/x' })).toBe('/x/prevu');
    expect(configDir({ HOME: '/home/u' })).toBe('/home/u/.config/prevu');
  });

  it('makes `local` (embedded) on first use with an ed25519 key pair, private key mode 0600', async () => {
    const store = new ProfileStore(join(tempDir(), 'prevu'));
    const profile = store.resolve(undefined, {});
    expect(profile).toMatchObject({ name: 'local', driver: 'local', tunnelServer: { type: 'embedded' }, private: false });
    const key = store.key('local');
    expect(statSync(key.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(key.publicKey).toMatch(/^ssh-ed25519 /);
    expect(key.accountId).toMatch(/^[a-z2-7]{10}$/);
    // the key signs tokens the tunnel server accepts for the same account
    const token = await signAccessToken({ privateKey: key.privateKey, envId: 'e' });
    const blob = (ssh2.utils.parseKey(key.publicKey) as ssh2.ParsedKey).getPublicSSH();
    expect((await verifyAccessToken(token, blob)).accountId).toBe(key.accountId);
    expect(accountIdOfPublicKey(key.publicKey)).toBe(key.accountId);
    // the same profile next time, same account
    expect(store.resolve(undefined, {}).createdAt).toBe(profile.createdAt);
  });

  it('a damaged key pair is one PREVU_ACCOUNT_KEY_UNREADABLE line naming the file, not an unexpected error later', () => {
    const store = new ProfileStore(join(tempDir(), 'prevu'));
    store.create({ name: 'a', driver: 'local', tunnelServer: { type: 'embedded' } });
    store.create({ name: 'b', driver: 'local', tunnelServer: { type: 'embedded' } });
    const file = store.key('a').privateKeyFile;
    const fails = (name: string) => {
      try {
        store.key(name);
      } catch (error) {
        return [(error as { code: string }).code, (error as Error).message];
      }
      return undefined;
    };
    writeFileSync(`${file}.pub`, readFileSync(`${store.key('b').privateKeyFile}.pub`));
    expect(fails('a')).toEqual(['PREVU_ACCOUNT_KEY_UNREADABLE', `the account key is unreadable (${file}.pub is not the public half of ${file})`]);
    writeFileSync(file, '-----BEGIN OPENSSH PRIVATE KEY-----\ntruncated\n', { mode: 0o600 });
    expect(fails('a')?.[1]).toMatch(new RegExp(`^the account key is unreadable \\(${file}: `));
    rmSync(`${file}.pub`);
    expect(fails('a')).toEqual(['PREVU_ACCOUNT_KEY_UNREADABLE', `the account key is unreadable (${file}.pub: ENOENT)`]);
  });

  it('creates, switches, lists and removes named profiles', () => {
    const store = new ProfileStore(join(tempDir(), 'prevu'));
    store.create({ name: 'work', driver: 'ssh', driverOptions: { host: 'me@h:22' }, tunnelServer: { type: 'remote', address: 'tunnel.example.com:2222' } });
    store.create({ name: 'home', driver: 'local', tunnelServer: { type: 'embedded' } });
    expect(store.names()).toEqual(['home', 'work']);
    store.setCurrent('work');
    expect(store.resolve(undefined, {}).name).toBe('work');
    expect(store.resolve('home', {}).name).toBe('home');
    expect(store.resolve(undefined, { PREVU_PROFILE: 'home' }).name).toBe('home');
    expect(store.key('work').accountId).not.toBe(store.key('home').accountId);
    store.remove('work');
    expect(store.current()).toBeUndefined();
    expect(store.names()).toEqual(['home']);
  });

  it('fails in one line: unknown profile, bad name, duplicate, corrupt file', () => {
    const store = new ProfileStore(join(tempDir(), 'prevu'));
    expect(() => store.resolve('nope', {})).toThrow(expect.objectContaining({ code: 'PREVU_UNKNOWN_PROFILE', exitCode: 1 }));
    expect(() => store.create({ name: 'Bad Name', driver: 'local', tunnelServer: { type: 'embedded' } })).toThrow(expect.objectContaining({ code: 'PREVU_PROFILE_NAME_INVALID' }));
    store.create({ name: 'a', driver: 'local', tunnelServer: { type: 'embedded' } });
    expect(() => store.create({ name: 'a', driver: 'local', tunnelServer: { type: 'embedded' } })).toThrow(/already exists/);
    const file = join(store.profileDir('a'), 'profile.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"embedded"', '"nowhere"'));
    expect(() => store.read('a')).toThrow(expect.objectContaining({ code: 'PREVU_PROFILE_INVALID', message: expect.stringMatching(/profile "a" is invalid \(tunnelServer/) }));
  });
});
