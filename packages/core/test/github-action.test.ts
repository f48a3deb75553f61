// The action's inputs, profile materialization, argument splitting and step outputs.
import { prevuFailure } from './prevu-failure.js';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionOutputs, materializeProfile, planAction, readActionInputs, splitArgs, writeStepOutputs } from '../src/github/action.js';
import type { PrevuError } from '../src/errors.js';
import { ProfileStore } from '../src/profiles.js';
import { ed25519KeyPair } from '../src/ssh-keys.js';

function lineOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as PrevuError).line;
  }
  return 'did not throw';
}

const dir = mkdtempSync(join(tmpdir(), 'prevu-action-'));

describe('action inputs', () => {
  it('reads INPUT_* with either spelling of dashed names and validates them in one line', () => {
    expect(readActionInputs({ INPUT_COMMAND: 'up', 'INPUT_GITHUB-TOKEN': 't1', INPUT_STRICT: 'true', INPUT_ARGS: '' })).toEqual({ command: 'up', 'github-token': 't1', strict: true, args: '' });
    expect(readActionInputs({ INPUT_COMMAND: 'down', INPUT_GITHUB_TOKEN: 't2', INPUT_COMMENT: 'false' })).toMatchObject({ command: 'down', 'github-token': 't2', comment: false });
    expect(() => readActionInputs({})).toThrow('the action input `command` is missing');
    expect(lineOf(() => readActionInputs({ INPUT_COMMAND: 'deploy' }))).toMatch(/^the action input `command` is invalid \("deploy"\) \(.*\): set `command: up`, `command: down` or `command: gc` under `with:`$/);
    expect(() => readActionInputs({ INPUT_COMMAND: 'up', INPUT_STATUS: 'maybe' })).toThrow(/`status` is invalid \("maybe"\)/);
  });

  it('splits args like a shell, without running one', () => {
    expect(splitArgs(`-f compose.yaml  --id 'my env' web "api x" a\\ b --set k=$HOME '*.js'`)).toEqual(['-f', 'compose.yaml', '--id', 'my env', 'web', 'api x', 'a b', '--set', 'k=$HOME', '*.js']);
    expect(() => splitArgs('web $(rm -rf /)')).toThrow(/has shell syntax \(\(\) and prevu runs no shell/);
    expect(() => splitArgs('web; rm -rf /')).toThrow(/has shell syntax \(;\)/);
    expect(splitArgs('')).toEqual([]);
    expect(splitArgs(`""`)).toEqual(['']);
    expect(() => splitArgs(`"open`)).toThrow(/unclosed " quote/);
  });

  it('plans `prevu <command> --json` with the env id and profile', () => {
    const up = planAction(readActionInputs({ INPUT_COMMAND: 'up', INPUT_ARGS: '-f a.yaml web' }), 'pr-3', 'ci');
    expect(up.argv).toEqual(['up', '--json', '--id', 'pr-3', '--profile', 'ci', '-f', 'a.yaml', 'web']);
    expect(up.report).toEqual({ comment: true, status: 'deployment', strict: false });
    expect(planAction(readActionInputs({ INPUT_COMMAND: 'up' }), undefined, undefined).argv).toEqual(['up', '--json']);
    expect(() => planAction(readActionInputs({ INPUT_COMMAND: 'down' }), undefined, undefined)).toThrow(/`down` outside a pull request needs the env id/);
    // gc (a scheduled workflow) is about every env of the profile: no --id, even in a pull request.
    expect(planAction(readActionInputs({ INPUT_COMMAND: 'gc', INPUT_ARGS: '--volumes' }), 'pr-3', 'ci').argv).toEqual(['gc', '--json', '--profile', 'ci', '--volumes']);
  });

  it('materializes a profile from its contents and the account key secret', async () => {
    const store = new ProfileStore(join(dir, 'config'));
    const pair = ed25519KeyPair();
    const profile = { version: 1, name: 'ci', driver: 'ssh', driverOptions: { host: 'example.com' }, tunnelServer: { type: 'remote', address: 'tunnel.example.com:2222' }, private: false, createdAt: '2026-11-23T00:00:00Z' };
    const name = await materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: JSON.stringify(profile), INPUT_ACCOUNT_KEY: pair.private }), store);
    expect(name).toBe('ci');
    expect(store.read('ci')).toMatchObject({ driver: 'ssh', tunnelServer: { address: 'tunnel.example.com:2222' } });
    const key = store.key('ci');
    expect(key.publicKey).toBe(pair.public.split(' ').slice(0, 2).join(' '));
    expect(statSync(key.privateKeyFile).mode & 0o777).toBe(0o600);

    // A path works too, as YAML, and `driver` overrides the profile's.
    const file = join(dir, 'profile.yaml');
    writeFileSync(file, `version: 1\nname: ci2\ndriver: ssh\ntunnelServer:\n  type: embedded\ncreatedAt: "2026-11-23T00:00:00Z"\n`);
    await materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: file, INPUT_DRIVER: 'local', INPUT_ACCOUNT_KEY: pair.private }), store);
    expect(store.read('ci2').driver).toBe('local');

    expect(await materializeProfile(readActionInputs({ INPUT_COMMAND: 'up' }), store)).toBeUndefined();
    // The name of a profile the runner already has.
    expect(await materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: 'ci2' }), store)).toBe('ci2');
    await expect(materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: 'ci2', INPUT_DRIVER: 'ssh' }), store)).rejects.toThrow(/exists on this runner/);
    await expect(materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: 'nosuch' }), store)).rejects.toThrow(/neither a profile \(JSON or YAML\) nor the path of one/);
    await expect(materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: JSON.stringify(profile) }), store)).rejects.toThrow(/profile "ci" needs its account key/);
    await expect(materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: '{"name":"x"}', INPUT_ACCOUNT_KEY: pair.private }), store)).rejects.toThrow(/the profile input is invalid \(version:/);
    await expect(materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: JSON.stringify(profile), INPUT_ACCOUNT_KEY: 'not a key' }), store)).rejects.toThrow(/account-key input is not an unencrypted OpenSSH private key/);
  });

  it('pins the ssh host and the tunnel server keys from their inputs (a runner has no known hosts)', async () => {
    const store = new ProfileStore(join(dir, 'pins'));
    const pair = ed25519KeyPair();
    const hostPin = `SHA256:${'a'.repeat(43)}`;
    const serverPin = ed25519KeyPair().public;
    const profile = { version: 1, name: 'pinned', driver: 'ssh', driverOptions: { host: 'example.com' }, tunnelServer: { type: 'remote', address: 'tunnel.example.com:2222' }, createdAt: '2026-11-23T00:00:00Z' };
    const inputs = (extra: Record<string, string>, p: object = profile) => readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: JSON.stringify(p), INPUT_ACCOUNT_KEY: pair.private, ...extra });
    await materializeProfile(inputs({ INPUT_SSH_HOST_KEY: hostPin, 'INPUT_TUNNEL-SERVER-HOST-KEY': serverPin }), store);
    expect(store.read('pinned')).toMatchObject({ driverOptions: { host: 'example.com', hostKey: hostPin }, tunnelServer: { hostKey: serverPin, hostKeyPinned: true } });
    expect(lineOf(() => readActionInputs({ INPUT_COMMAND: 'up', INPUT_SSH_HOST_KEY: 'SHA256:nope' }))).toMatch(/^the action input `ssh-host-key` is invalid \("SHA256:nope"\) \(a host key is SHA256:\.\.\. \(ssh-keygen -lf\) or "ssh-ed25519 AAAA\.\.\." \(ssh-keyscan\)\): fix `ssh-host-key` under `with:` in the workflow$/);
    expect((await prevuFailure(materializeProfile(inputs({ INPUT_SSH_HOST_KEY: hostPin }, { ...profile, name: 'other', driver: 'lightsail' }), store))).line).toMatch(/^the ssh-host-key input pins an ssh host, and profile "other" uses the lightsail driver/);
    expect((await prevuFailure(materializeProfile(inputs({ INPUT_TUNNEL_SERVER_HOST_KEY: hostPin }, { ...profile, name: 'other', tunnelServer: { type: 'embedded' } }), store))).line).toMatch(/^the tunnel-server-host-key input pins a remote tunnel server, and profile "other" uses the embedded one/);
    await expect(materializeProfile(readActionInputs({ INPUT_COMMAND: 'up', INPUT_PROFILE: 'pinned', INPUT_SSH_HOST_KEY: hostPin }), store)).rejects.toThrow(/exists on this runner, so driver, account-key and the host keys cannot change it/);
  });

  it('writes step outputs in GitHub\'s delimiter format', () => {
    const file = join(dir, 'output');
    writeFileSync(file, '');
    const urls = [{ service: 'web', port: 80, url: 'http://web-80-x.localhost:8080' }];
    writeStepOutputs(actionOutputs(urls), file);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^urls<<(ghadelimiter_[0-9a-f-]+)\n\[\{"service":"web","port":80,"url":"http:\/\/web-80-x\.localhost:8080"\}\]\n\1\nurl<<(ghadelimiter_[0-9a-f-]+)\nhttp:\/\/web-80-x\.localhost:8080\n\2\n$/);
  });
});
