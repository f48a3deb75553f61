// The lightsail driver with the real @aws-sdk/client-lightsail against the test kit's Lightsail
// stand-in (AWS JSON 1.1 on loopback), whose instance "VM" is a real sshd on loopback.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startLightsailStandIn, startSshd, useKit, type LightsailStandIn, type Sshd } from '@prevu/test-kit';
import { accountIdFromKeyBlob } from '../src/names.js';
import { instanceName, LightsailDriver, TAG_ENV, TAG_PROFILE, type LightsailDriverOptions, type SshTarget } from '../src/drivers/lightsail.js';
import { isPrevuError, type PrevuError } from '../src/errors.js';
import { SshDriver } from '../src/drivers/ssh.js';
import { dockerServerVersion } from './machine-docker.js';
import { ed25519KeyPair } from '../src/ssh-keys.js';
import { prevuFailure } from './prevu-failure.js';

const kit = useKit();
let standIn: LightsailStandIn;
let publicKey: string;
let privateKeyPath: string;
let knownHostsPath: string;
let baseDir: string;
let sshd: Sshd;
const savedEnv = { ...process.env };
const targets: SshTarget[] = [];
const forgotten: string[] = [];

function driver(overrides: Partial<LightsailDriverOptions> = {}, progress: string[] = []): LightsailDriver {
  const d = new LightsailDriver({
    profile: 'team',
    settings: { region: 'us-east-1', sshPort: standIn.sshPort, sshUser: sshUser },
    publicKey,
    // What the registry wires, with the env directories in a temp dir instead of the user's home.
    sshDriver: (target) => {
      targets.push(target);
      return new SshDriver({ ...target, privateKeyPath, knownHostsPath, baseDir });
    },
    onProgress: (m) => progress.push(m),
    forgetHostKey: (host, port) => forgotten.push(`${host}:${port}`),
    timeouts: { pollMs: 50, readyMs: 15_000 },
    ...overrides,
  });
  kit.defer('lightsail driver', () => d.close());
  return d;
}

let sshUser: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-lightsail-'));
  privateKeyPath = join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'prevu-test', '-f', privateKeyPath]);
  publicKey = readFileSync(`${privateKeyPath}.pub`, 'utf8').trim();
  knownHostsPath = join(dir, 'known_hosts');
  baseDir = join(dir, 'envs');
  sshd = await startSshd(kit, { authorizedKey: publicKey });
  sshUser = sshd.user;
  standIn = await startLightsailStandIn(kit, { sshHost: sshd.host, sshPort: sshd.port, hostKeys: [sshd.hostPublicKey], pendingPolls: 2, pageSize: 2 });
  Object.assign(process.env, standIn.env());
});

afterAll(() => {
  process.env = savedEnv;
});

describe('lightsail driver against the stand-in', () => {
  it('imports the key pair, creates a tagged instance with user-data, polls until running, reaches Docker over SSH', async () => {
    const progress: string[] = [];
    const d = driver({}, progress);
    const machine = await d.ensureMachine('shop-main');
    // what its agent needs to delete this instance at the TTL (no credential: that is the user's own)
    expect(machine.selfDelete).toEqual({ instanceName: instanceName('team', 'shop-main'), region: 'us-east-1', endpoint: standIn.env().AWS_ENDPOINT_URL_LIGHTSAIL });

    const ops = standIn.operations();
    const created = ops.indexOf('CreateInstances');
    // The settings are checked against Lightsail's own lists (in parallel) before anything is made.
    // GetBundles (5) and GetBlueprints (4) are paged by 2, like every list here.
    const keyPair = ops.indexOf('GetKeyPair');
    expect(ops[0]).toBe('GetInstances');
    expect(ops.slice(1, keyPair).sort()).toEqual(['GetBlueprints', 'GetBlueprints', 'GetBundles', 'GetBundles', 'GetBundles', 'GetRegions']);
    expect(ops.slice(keyPair, created + 1)).toEqual(['GetKeyPair', 'ImportKeyPair', 'CreateInstances']);
    // Pending for two polls, then running; then the SSH port is opened (not 22 here), and the
    // host keys AWS saw on the instance are asked for.
    expect(ops.slice(created + 1)).toEqual(['GetInstance', 'GetInstance', 'GetInstance', 'OpenInstancePublicPorts', 'GetInstanceAccessDetails']);
    expect(standIn.calls.every((c) => c.region === 'us-east-1')).toBe(true);
    // Only the key pair lookup failed (NotFoundException, 404 as in Lightsail's model: not imported yet).
    expect(standIn.calls.filter((c) => c.status !== 200).map((c) => `${c.operation} ${c.status}`)).toEqual(['GetKeyPair 404']);

    const keyName = `prevu-${accountIdFromKeyBlob(Buffer.from(publicKey.split(' ')[1]!, 'base64'))}`;
    expect(standIn.keyPairs()).toMatchObject([{ name: keyName, publicKey }]);
    const create = standIn.calls[created]!.input;
    expect(create).toMatchObject({
      instanceNames: [instanceName('team', 'shop-main')],
      availabilityZone: 'us-east-1a',
      bundleId: 'small_3_0',
      blueprintId: 'debian_12',
      keyPairName: keyName,
      tags: [
        { key: TAG_ENV, value: 'shop-main' },
        { key: TAG_PROFILE, value: 'team' },
      ],
    });
    expect(create.userData).toMatch(/^#!\/bin\/bash\n[\s\S]*docker-compose-plugin/);
    expect(create.userData).toContain(`ssh_port='${standIn.sshPort}'`);
    expect(create.userData).toContain(`authorized_key='${publicKey.split(' ').slice(0, 2).join(' ')}'`);
    // The first contact already checks the key: pinned to what AWS reports, nothing trusted on first use.
    expect(targets.at(-1)).toEqual({ host: standIn.sshHost, port: standIn.sshPort, user: sshUser, hostKey: [sshd.hostKeyFingerprint] });
    expect(existsSync(knownHostsPath)).toBe(false);
    // A new instance may have a recycled IP: its old host key is dropped before first contact.
    expect(forgotten).toEqual([`${standIn.sshHost}:${standIn.sshPort}`]);
    expect(progress.some((m) => m.startsWith('creating Lightsail instance'))).toBe(true);
    expect(progress.some((m) => m.startsWith('waiting for'))).toBe(true);

    expect(await dockerServerVersion(machine)).toMatch(/^\d+\./);
  });

  it('reuses the instance on a second ensureMachine (found by tags, no create)', async () => {
    const before = standIn.calls.length;
    const progress: string[] = [];
    await driver({}, progress).ensureMachine('shop-main');
    const ops = standIn.operations().slice(before);
    expect(ops).not.toContain('CreateInstances');
    expect(ops).not.toContain('ImportKeyPair');
    expect(forgotten).toHaveLength(1);
    expect(ops[0]).toBe('GetInstances');
    expect(standIn.instances()).toHaveLength(1);
    expect(progress[0]).toMatch(/^reusing Lightsail instance prevu-team-shop-main \(running\)/);
  });

  it('waits for SSH to answer after running (sshd still booting), then reaches Docker', async () => {
    await sshd.stop();
    let restarted: Promise<void> | undefined;
    const progress: string[] = [];
    const d = driver({
      onProgress: (m) => {
        progress.push(m);
        if (m.startsWith('waiting for SSH and Docker')) restarted ??= sshd.restart();
      },
    });
    const machine = await d.ensureMachine('late-boot');
    await restarted;
    expect(await dockerServerVersion(machine)).toMatch(/^\d+\./);
    expect(progress.filter((m) => m.startsWith('waiting for SSH and Docker')).length).toBeGreaterThan(0);
    await d.remove('late-boot');
  });

  it('lists only the profile\'s instances across pages, with state and age', async () => {
    await driver({ profile: 'other' }).ensureMachine('shop-main');
    await driver().ensureMachine('blog-dev');
    expect(standIn.instances()).toHaveLength(3);
    const before = standIn.calls.length;
    const records = await driver().list();
    // Three instances, two per page: two GetInstances calls.
    expect(standIn.operations().slice(before)).toEqual(['GetInstances', 'GetInstances']);
    expect(records.map((r) => r.envId).sort()).toEqual(['blog-dev', 'shop-main']);
    for (const record of records) {
      expect(record).toMatchObject({ driver: 'lightsail', state: 'running', host: standIn.sshHost });
      expect(record.createdAt).toBeInstanceOf(Date);
    }
  });

  it('remove deletes the env\'s instance and is idempotent', async () => {
    const d = driver();
    forgotten.length = 0;
    // true: a machine went, its volumes with it (`down` then names no kept volume)
    expect(await d.remove('blog-dev')).toBe(true);
    expect(forgotten).toEqual([`${standIn.sshHost}:${standIn.sshPort}`]);
    expect(standIn.calls.at(-1)).toMatchObject({ operation: 'DeleteInstance', input: { instanceName: 'prevu-team-blog-dev' }, status: 200 });
    const before = standIn.calls.length;
    expect(await d.remove('blog-dev')).toBe(false);
    expect(standIn.operations().slice(before)).not.toContain('DeleteInstance');
    expect(await d.findMachine('blog-dev')).toBeUndefined();
    // Deleted by someone else between the lookup and the delete (the stand-in answers NotFound
    // without deleting): still fine.
    standIn.failNext('DeleteInstance', 'NotFoundException');
    await driver({ profile: 'other' }).remove('shop-main');
    expect(standIn.calls.at(-1)).toMatchObject({ operation: 'DeleteInstance', status: 404 });
    await driver({ profile: 'other' }).remove('shop-main');
    expect(standIn.instances().map((i) => i.name)).toEqual(['prevu-team-shop-main']);
  });

  it('creates the instance without a key pair when Lightsail refuses the key (the user-data authorizes it)', async () => {
    const fresh = driver({ settings: { region: 'us-east-1', sshPort: standIn.sshPort, sshUser, keyPairName: 'team-ed25519' } });
    standIn.failNext('ImportKeyPair', 'InvalidInputException', 1, 'The public key is not a valid ssh-rsa key');
    const before = standIn.calls.length;
    await fresh.ensureMachine('no-key-pair');
    const create = standIn.calls.slice(before).find((c) => c.operation === 'CreateInstances')!;
    expect(create.input.keyPairName).toBeUndefined();
    expect(standIn.keyPairs().map((k) => k.name)).not.toContain('team-ed25519');
    await fresh.remove('no-key-pair');
  });

  it('retries throttling with the SDK standard strategy (throttled twice, then served)', async () => {
    standIn.failNext('GetInstances', 'ThrottlingException', 2, 'Rate exceeded');
    const before = standIn.calls.length;
    const records = await driver().list();
    expect(records.map((r) => r.envId)).toEqual(['shop-main']);
    expect(standIn.calls.slice(before).map((c) => `${c.operation} ${c.status}`)).toEqual(['GetInstances 400', 'GetInstances 400', 'GetInstances 200']);
  });

  it('maps each AWS failure to one line and an exit code', async () => {
    const cases: { name: string; arrange: () => void; overrides?: Partial<LightsailDriverOptions>; code: string; line: RegExp; exit: number }[] = [
      {
        name: 'access denied',
        arrange: () => standIn.failNext('CreateInstances', 'AccessDeniedException', 1, 'User: arn:aws:iam::1:user/ci is not authorized to perform: lightsail:CreateInstances'),
        code: 'PREVU_AWS_ACCESS_DENIED',
        line: /^AWS denied lightsail:CreateInstances \(.*\): allow lightsail:CreateInstances in the IAM policy/,
        exit: 1,
      },
      {
        name: 'unknown bundle',
        arrange: () => undefined,
        overrides: { settings: { region: 'us-east-1', bundleId: 'huge_9_9', sshPort: standIn.sshPort } },
        code: 'PREVU_AWS_INVALID_SETTING',
        line: /^Lightsail does not accept the bundle "huge_9_9" .*: choose another with --set bundleId=<id> \(`aws lightsail get-bundles` lists them\)$/,
        exit: 1,
      },
      {
        name: 'unknown blueprint',
        arrange: () => undefined,
        overrides: { settings: { region: 'us-east-1', blueprintId: 'windows_95', sshPort: standIn.sshPort } },
        code: 'PREVU_AWS_INVALID_SETTING',
        line: /^Lightsail does not accept the blueprint "windows_95" .*--set blueprintId=<id>/,
        exit: 1,
      },
      {
        name: 'availability zone outside the region',
        arrange: () => undefined,
        overrides: { settings: { region: 'us-east-1', availabilityZone: 'eu-west-1a', sshPort: standIn.sshPort } },
        code: 'PREVU_AWS_INVALID_SETTING',
        line: /^Lightsail does not accept the availability zone "eu-west-1a" .*: choose another with --set availabilityZone=<zone> \(`aws lightsail get-regions --include-availability-zones --region us-east-1` lists them\)$/,
        exit: 1,
      },
      {
        name: 'a region the credentials cannot be scoped to (signature refused, as AWS answers)',
        arrange: () => undefined,
        overrides: { settings: { region: 'xx-nowhere-1', sshPort: standIn.sshPort } },
        code: 'PREVU_AWS_SIGNATURE_REFUSED',
        line: /^AWS refused the request signature \(.*\): check AWS_SECRET_ACCESS_KEY, and that Lightsail serves the region xx-nowhere-1/,
        exit: 1,
      },
      {
        name: 'an InvalidInputException left after the checks (a quota), in AWS\'s words',
        arrange: () => standIn.failNext('CreateInstances', 'InvalidInputException', 1, "Sorry, you've reached the maximum number of instances for this account"),
        code: 'PREVU_LIGHTSAIL_REFUSED',
        line: /^Lightsail refused CreateInstances \(Sorry, you've reached the maximum number of instances for this account\): check the profile's lightsail settings \(region us-east-1, availabilityZone us-east-1a, bundleId small_3_0, blueprintId debian_12\)$/,
        exit: 1,
      },
      {
        name: 'service exception, retried as a 500 and then reported',
        arrange: () => standIn.failNext('CreateInstances', 'ServiceException', 3, 'We encountered an internal error'),
        code: 'PREVU_LIGHTSAIL_FAILED',
        line: /^Lightsail failed CreateInstances \(ServiceException: We encountered an internal error\): retry/,
        exit: 2,
      },
      {
        name: 'throttled past the retries',
        arrange: () => standIn.failNext('GetInstances', 'ThrottlingException', 3, 'Rate exceeded'),
        code: 'PREVU_AWS_THROTTLED',
        line: /^AWS kept throttling lightsail:GetInstances after the SDK's retries: wait a minute and retry/,
        exit: 2,
      },
    ];
    for (const c of cases) {
      c.arrange();
      const error = await prevuFailure(driver(c.overrides).ensureMachine(`err-${c.code.toLowerCase().replace(/_/g, '-')}`));
      expect({ case: c.name, code: error.code, exit: error.exitCode }).toEqual({ case: c.name, code: c.code, exit: c.exit });
      expect(error.line, c.name).toMatch(c.line);
      expect(error.line.includes('\n'), c.name).toBe(false);
    }
    // None of them left an instance behind.
    expect(standIn.instances().map((i) => i.name)).toEqual(['prevu-team-shop-main']);
  });

  it('says so in one line when there are no credentials (and sends nothing)', async () => {
    const saved = { ...process.env };
    try {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      delete process.env.AWS_PROFILE;
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmpdir(), 'prevu-no-such-credentials');
      process.env.AWS_CONFIG_FILE = join(tmpdir(), 'prevu-no-such-config');
      const before = standIn.calls.length;
      const error = await prevuFailure(driver().list());
      expect(error.code).toBe('PREVU_AWS_NO_CREDENTIALS');
      expect(error.exitCode).toBe(1);
      expect(error.line).toMatch(/^no AWS credentials found \(.*\): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
      expect(standIn.calls.length).toBe(before);
    } finally {
      process.env = saved;
    }
  });

  it('stops waiting for a pending instance at the timeout; the tagged instance stays listed and removable', async () => {
    standIn.setPendingPolls(Number.POSITIVE_INFINITY);
    try {
      const d = driver({ timeouts: { pollMs: 50, runningMs: 400 } });
      const error = await prevuFailure(d.ensureMachine('stuck'));
      expect(error.code).toBe('PREVU_MACHINE_NOT_READY');
      expect(error.exitCode).toBe(2);
      expect(error.line).toMatch(/^Lightsail instance prevu-team-stuck is still pending after \d+ s: .*`prevu down` deletes it$/);
      expect((await d.list()).find((r) => r.envId === 'stuck')).toMatchObject({ state: 'pending' });
      await d.remove('stuck');
      expect((await d.list()).map((r) => r.envId)).toEqual(['shop-main']);
    } finally {
      standIn.setPendingPolls(2);
    }
  });

  it('an abort right after CreateInstances leaves a tagged instance that list shows and remove deletes', async () => {
    const controller = new AbortController();
    const d = driver({ onProgress: (m) => m.startsWith('waiting for') && controller.abort() });
    await expect(d.ensureMachine('interrupted', controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    const made = standIn.instances().find((i) => i.name === 'prevu-team-interrupted');
    expect(made?.tags).toEqual([
      { key: TAG_ENV, value: 'interrupted' },
      { key: TAG_PROFILE, value: 'team' },
    ]);
    expect((await d.list()).map((r) => r.envId).sort()).toEqual(['interrupted', 'shop-main']);
    await d.remove('interrupted');
    expect(standIn.instances().map((i) => i.name)).toEqual(['prevu-team-shop-main']);
  });

  it('an API that does not answer is an environment error (exit 2) naming the endpoint', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_LIGHTSAIL;
    const closed = await freePort();
    process.env.AWS_ENDPOINT_URL_LIGHTSAIL = `http://127.0.0.1:${closed}`;
    try {
      const error = await prevuFailure(driver().list());
      expect(error.code).toBe('PREVU_AWS_UNREACHABLE');
      expect(error.exitCode).toBe(2);
      expect(error.line).toBe(`the Lightsail API at http://127.0.0.1:${closed} does not answer (ECONNREFUSED): check the network, the region, and AWS_ENDPOINT_URL_LIGHTSAIL if set`);
    } finally {
      process.env.AWS_ENDPOINT_URL_LIGHTSAIL = saved;
    }
  });

  it('names wrong credentials (unknown key id, wrong secret) in one line', async () => {
    const saved = { ...process.env };
    try {
      for (const [id, secret, code, pattern] of [
        ['AKIAUNKNOWN000000000', 'x', 'PREVU_AWS_BAD_CREDENTIALS', /^AWS rejected the credentials \(The security token included in the request is invalid\.\): check AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY or the AWS_PROFILE in use/],
        [saved.AWS_ACCESS_KEY_ID!, 'wrong-secret', 'PREVU_AWS_SIGNATURE_REFUSED', /^AWS refused the request signature \(The request signature we calculated does not match.*\): check AWS_SECRET_ACCESS_KEY, and that Lightsail serves the region us-east-1/],
      ] as const) {
        process.env.AWS_ACCESS_KEY_ID = id;
        process.env.AWS_SECRET_ACCESS_KEY = secret;
        const error = await prevuFailure(driver().list());
        expect(error.code).toBe(code);
        expect(error.exitCode).toBe(1);
        expect(error.line).toMatch(pattern);
      }
    } finally {
      process.env = saved;
    }
  });

  it('validates the settings at construction, one line naming the setting', () => {
    for (const [settings, pattern] of [
      [{ region: 'US East', sshPort: 22 }, /^invalid lightsail setting region \(a region looks like us-east-1\): set it with `prevu init --driver lightsail --set region=\.\.\.`/],
      [{ region: 'us-east-1', sshPort: 70000 }, /^invalid lightsail setting sshPort /],
      [{ region: 'us-east-1', sshUser: 'root; rm -rf /' }, /^invalid lightsail setting sshUser \(a Unix user name\)/],
    ] as const) {
      let error: unknown;
      try {
        driver({ settings });
      } catch (e) {
        error = e;
      }
      expect(isPrevuError(error) && error.exitCode).toBe(1);
      expect((error as PrevuError).line).toMatch(pattern);
    }
  });

  it('the stand-in refuses unsigned requests the way AWS does', async () => {
    const res = await request(standIn.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Lightsail_20161128.GetInstances' },
      body: '{}',
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-amzn-errortype']).toMatch(/^MissingAuthenticationTokenException:/);
    expect(await res.body.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  it('refuses an instance whose SSH host key is not the one AWS reports, at once (no trust on first use)', async () => {
    standIn.setHostKeys([ed25519KeyPair().public]);
    try {
      const progress: string[] = [];
      const failure = await prevuFailure(driver({}, progress).ensureMachine('mitm'));
      expect(failure.code).toBe('PREVU_HOST_KEY_NOT_PINNED');
      expect(failure.line).toMatch(/^the SSH host key of .+ is not the one pinned for it: something may sit between prevu and it/);
      expect(progress.some((m) => m.startsWith('waiting for SSH and Docker'))).toBe(false);
      expect(existsSync(knownHostsPath)).toBe(false);
    } finally {
      standIn.setHostKeys([sshd.hostPublicKey]);
      await driver().remove('mitm');
    }
  });

  it('records the key on first use when AWS reports none yet, and says so', async () => {
    standIn.setHostKeys([]);
    try {
      const progress: string[] = [];
      const d = driver({}, progress);
      await d.ensureMachine('unwitnessed');
      expect(progress).toContain(`Lightsail reports no SSH host key of ${instanceName('team', 'unwitnessed')} yet: its key is recorded on first use`);
      expect(targets.at(-1)!.hostKey).toBeUndefined();
      expect(readFileSync(knownHostsPath, 'utf8')).toContain(sshd.hostPublicKey);
      await d.remove('unwitnessed');
    } finally {
      standIn.setHostKeys([sshd.hostPublicKey]);
    }
  });

  it('remove at the end leaves the stand-in without instances', async () => {
    await driver().remove('shop-main');
    expect(standIn.instances()).toEqual([]);
  });
});
