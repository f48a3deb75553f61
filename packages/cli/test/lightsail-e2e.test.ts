// `prevu up --driver lightsail` end to end: the real CLI and its real AWS SDK client against the
// test kit's Lightsail stand-in (AWS_ENDPOINT_URL_LIGHTSAIL, fake credentials it verifies), whose
// instance "VM" is the test kit's machine: a second Docker engine behind its own OpenSSH server.
// A tunnel server process answers the URLs, reached by the CLI on loopback and by the agent on the
// machine as host.docker.internal.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeProjectResources, freePort, httpGet, runId, startLightsailStandIn, startMachine, startTunnelServer, useKit, waitFor, type LightsailStandIn, type Machine } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliHome, errorLines, HELLO, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
let machine: Machine;
let standIn: LightsailStandIn;
let hello: string;
let urls: string[];
let lightsailFlags: string[];
const envId = `hello-ls-${runId}`;
const project = `prevu-${envId}`;

/** The delete-only key of site/docs/drivers.md: the stand-in lets it do DeleteInstance and nothing else. */
const DELETER = { accessKeyId: 'AKIAPREVUDELETER0001', secretAccessKey: 'prevu-delete-secret-never-in-env', operations: ['DeleteInstance'] };

const urlsOf = (table: string) => [...table.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).sort();
const containersOf = async (p: string) => (await machine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${p}`])).trim().split('\n').filter(Boolean);
const apiImage = async () => (await machine.docker(['image', 'inspect', '--format', '{{.Id}}', `${project}-api`])).trim();

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'prevu-lightsail-e2e-'));
  kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
  const remoteBase = join(work, 'remote-envs');
  mkdirSync(remoteBase);
  hello = join(work, 'hello');
  cpSync(HELLO, hello, { recursive: true });

  const sshPort = await freePort();
  const server = await startTunnelServer(kit, { listen: '0.0.0.0' });
  cli = cliHome(kit);
  // a local profile: the first `up --driver lightsail --set ...` switches it, and stores that
  const init = await cli.run(['init', '--name', 'cloud', '--tunnel-server', `127.0.0.1:${server.ports.ssh}`, '--agent-tunnel-server', `host.docker.internal:${server.ports.ssh}`, '--json']);
  lightsailFlags = ['--driver', 'lightsail', '--set', 'region=us-east-1', '--set', `sshPort=${sshPort}`, '--set', 'sshUser=root', '--set', `baseDir=${remoteBase}`];
  expect(init.code, init.stderr).toBe(0);
  const publicKey = (JSON.parse(init.stdout) as { publicKey: string }).publicKey;
  // The "instance" accepts the profile key, as a Lightsail instance made with its imported key pair does.
  machine = await startMachine(kit, { sshd: { port: sshPort, authorizedKey: publicKey } });
  // On every address: the agent on the machine reaches it as host.docker.internal to delete its instance.
  standIn = await startLightsailStandIn(kit, { sshHost: machine.sshd.host, sshPort: machine.sshd.port, hostKeys: [machine.sshd.hostPublicKey], pendingPolls: 2, listen: '0.0.0.0', limitedCredentials: [DELETER] });
  Object.assign(cli.env, standIn.env());
  // Whatever a failed test left: containers of the env go with compose.
  kit.defer(`compose down ${project}`, () => machine.docker(['compose', '-p', project, 'down', '--volumes', '--remove-orphans', '--timeout', '1'], { cwd: tmpdir() }));
});

describe('prevu up --driver lightsail against the stand-in', () => {
  it('up: key pair imported, tagged instance created with user-data, polled until running; every URL answers 200', async () => {
    const up = await cli.run(['up', '--id', envId, ...lightsailFlags], { cwd: hello });
    expect(up.code, up.stderr).toBe(0);
    const ops = standIn.operations();
    // the settings are checked against Lightsail's lists (paged) before anything is made
    const lists = ['GetRegions', 'GetBundles', 'GetBlueprints'];
    expect(new Set(ops.slice(0, ops.indexOf('GetKeyPair')))).toEqual(new Set(['GetInstances', ...lists]));
    const made = ops.filter((op) => !lists.includes(op));
    expect(made.slice(0, 4)).toEqual(['GetInstances', 'GetKeyPair', 'ImportKeyPair', 'CreateInstances']);
    expect(made.slice(4, 7)).toEqual(['GetInstance', 'GetInstance', 'GetInstance']);
    const create = standIn.calls.find((c) => c.operation === 'CreateInstances')!.input;
    expect(create).toMatchObject({ bundleId: 'small_3_0', blueprintId: 'debian_12', availabilityZone: 'us-east-1a', tags: [{ key: 'prevu:env', value: envId }, { key: 'prevu:profile', value: 'cloud' }] });
    expect(String(create.userData)).toContain('docker-compose-plugin');
    expect(standIn.keyPairs()[0]!.publicKey).toBe(readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'cloud', 'id_ed25519.pub'), 'utf8').trim());

    urls = urlsOf(up.stdout.trim().split('\n').slice(-3).join('\n'));
    expect(urls).toHaveLength(2);
    for (const url of urls) expect((await httpGet(url)).status, url).toBe(200);
    // The instance's host key was pinned to what AWS reports: nothing recorded on first use.
    expect(ops).toContain('GetInstanceAccessDetails');
    expect(existsSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'cloud', 'known_hosts'))).toBe(false);
    // Built by the instance's engine; the host engine has nothing of the env.
    expect((await machine.contents()).images).toEqual(expect.arrayContaining([`${project}-api:latest`, expect.stringMatching(/^prevu-compose-tunnel-agent:/)]));
    expect(await composeProjectResources(project)).toEqual([]);
  }, 300_000);

  it('a second up reuses the instance (no create, no import), sends the changed file and rebuilds the api; status and logs through the agent', async () => {
    const before = standIn.calls.length;
    const built = await apiImage();
    const server = join(hello, 'api', 'server.js');
    writeFileSync(server, readFileSync(server, 'utf8').replace("hello: 'from the api'", "hello: 'from the changed api'"));
    const up = await cli.run(['up', '--id', envId, '--debug'], { cwd: hello });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/Upload the project files: 1 sent, [1-9]\d* unchanged/);
    expect(await apiImage()).not.toBe(built);
    expect(JSON.parse((await httpGet(urls.find((u) => u.includes('//api-'))!)).body)).toMatchObject({ hello: 'from the changed api', env: envId });
    const status = await cli.run(['status', '--id', envId, '--json'], { cwd: hello });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ agent: 'connected', services: expect.arrayContaining([{ service: 'api', state: 'running', health: 'healthy' }]) });
    const logs = await cli.run(['logs', 'web', '--id', envId], { cwd: hello });
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^web: serving \/www on port 80$/m);
    const ops = standIn.operations().slice(before);
    expect(ops).not.toContain('CreateInstances');
    expect(ops).not.toContain('ImportKeyPair');
    expect(standIn.instances()).toHaveLength(1);
    // the driver settings of the first `up` were stored in the profile
    const profile = JSON.parse(readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'cloud', 'profile.json'), 'utf8')) as { driver: string; driverOptions: Record<string, unknown> };
    expect(profile).toMatchObject({ driver: 'lightsail', driverOptions: { region: 'us-east-1', sshUser: 'root' } });
    expect(urlsOf(up.stdout.trim().split('\n').slice(-3).join('\n'))).toEqual(urls);
  }, 300_000);

  it('a TTL without the delete-only credential: one warning line; with it the agent gets the instance to delete, the key only as a secret file', async () => {
    // A TTL as the profile's default (`up --ttl` gives one too).
    const profileFile = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'cloud', 'profile.json');
    const profile = readFileSync(profileFile, 'utf8');
    writeFileSync(profileFile, JSON.stringify({ ...(JSON.parse(profile) as object), lifecycle: { ttlSeconds: 3600 } }));
    const instance = `prevu-cloud-${envId}`;
    const warned = await cli.run(['up', '--id', envId], { cwd: hello }).finally(() => writeFileSync(profileFile, profile));
    expect(warned.code, warned.stderr).toBe(0);
    expect(errorLines(warned.stderr)).toEqual([
      `prevu: warning: ${instance} has a TTL but no delete credential (PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID...): it is deleted only by \`prevu gc\` or \`down\`, not at its TTL; see the Lightsail driver's self-delete in the docs`,
    ]);

    // without a TTL the credential still goes: the TTL may come from `up --ttl` on a later run
    const secret = DELETER.secretAccessKey;
    const up = await cli.run(['up', '--id', envId], { cwd: hello, env: { PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID: 'AKIAPREVUDELETER0001', PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY: secret } });
    expect(up.code, up.stderr).toBe(0);
    expect(errorLines(up.stderr)).toEqual([]);
    // `up` waited for the agent's forwards: the agent started with these settings and read its secret.
    const agent = (await machine.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=prevu-agent'])).trim();
    const inspect = await machine.docker(['inspect', agent]);
    expect(inspect).toContain(`"PREVU_LIGHTSAIL_INSTANCE=${instance}"`);
    expect(inspect).toContain('"PREVU_LIGHTSAIL_REGION=us-east-1"');
    expect(inspect).toContain(`"PREVU_LIGHTSAIL_ENDPOINT=${standIn.env().AWS_ENDPOINT_URL_LIGHTSAIL}"`);
    expect(inspect).not.toContain(secret);
    expect(JSON.parse(await machine.docker(['exec', agent, 'cat', '/run/secrets/prevu_lightsail_delete']))).toEqual({ accessKeyId: 'AKIAPREVUDELETER0001', secretAccessKey: secret });
    expect(standIn.instances()).toHaveLength(1);
  }, 300_000);

  it('ls lists the env; down removes containers and deletes the instance', async () => {
    const ls = await cli.run(['ls', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const envs = (JSON.parse(ls.stdout) as { envs: { envId: string; machine?: { state: string; host?: string; createdAt?: string } }[] }).envs;
    expect(envs.map((e) => e.envId)).toEqual([envId]);
    expect(envs[0]!.machine).toMatchObject({ state: 'running', host: standIn.sshHost });
    expect(Date.parse(envs[0]!.machine!.createdAt!)).toBeLessThanOrEqual(Date.now());
    const table = await cli.run(['ls']);
    expect(table.stdout).toMatch(/^ENV\s+STATUS\s+MACHINE\s+AGE\s+TTL\s+PINNED\s+ASLEEP\s+LAST REQUEST\s+DRIVER\s+DIRECTORY$/m);
    // its agent answers: awake, and the last request through the tunnel server
    expect(table.stdout).toMatch(new RegExp(`^${envId}\\s+up\\s+running \\d+[smhd]\\s+\\d+[smhd]\\s+never\\s+no\\s+no\\s+\\d+[smhd] ago\\s+lightsail\\s`, 'm'));
    const down = await cli.run(['down', '--id', envId], { cwd: hello });
    expect(down.code, down.stderr).toBe(0);
    expect(standIn.calls.at(-1)).toMatchObject({ operation: 'DeleteInstance', status: 200 });
    expect(await containersOf(project)).toEqual([]);
    expect(standIn.instances()).toEqual([]);
    // Nothing but images left on the machine's engine, nothing of the env ever on the host's.
    const left = await machine.contents();
    expect([left.containers, left.networks, left.volumes]).toEqual([[], [], []]);
    expect(await composeProjectResources(project)).toEqual([]);
  });

  it('SIGINT right after CreateInstances: exit 130, ls shows the env, down deletes the instance', async () => {
    standIn.setPendingPolls(Number.POSITIVE_INFINITY);
    const interrupted = `${envId}-int`;
    const child = spawn('node', [CLI, 'up', '--id', interrupted], { cwd: hello, env: { ...process.env, ...cli.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    kit.defer('interrupted up', () => child.kill('SIGKILL'));
    await waitFor('CreateInstances', async () => (standIn.operations().includes('CreateInstances') && standIn.instances().length === 1 ? true : undefined), 60_000);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    standIn.setPendingPolls(2);

    const ls = await cli.run(['ls', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = (JSON.parse(ls.stdout) as { envs: { envId: string; machine?: { state: string } }[] }).envs.find((e) => e.envId === interrupted);
    expect(listed?.machine?.state).toBe('pending');
    const down = await cli.run(['down', '--id', interrupted], { cwd: hello });
    expect(down.code, down.stderr).toBe(0);
    expect(standIn.instances()).toEqual([]);
  });

  it('purge --force removes every env of the profile (its instance included)', async () => {
    const up = await cli.run(['up', '--id', `${envId}-p`], { cwd: hello });
    expect(up.code, up.stderr).toBe(0);
    // At a terminal (a pty from util-linux `script`) purge asks; "n" keeps everything.
    const asked = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qec', `node ${CLI} purge`, '/dev/null'], { cwd: hello, env: { ...process.env, ...cli.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('[y/N]')) child.stdin.end('n\n');
      });
      child.once('exit', () => resolve(out));
    });
    expect(asked).toMatch(new RegExp(`delete 1 env\\(s\\) of profile cloud \\(${envId}-p\\)\\? \\[y/N\\]`));
    expect(asked).toContain('nothing removed');
    expect(standIn.instances()).toHaveLength(1);
    const purge = await cli.run(['purge', '--force']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(standIn.instances()).toEqual([]);
    expect(await containersOf(`prevu-${envId}-p`)).toEqual([]);
  }, 300_000);

  it('an AWS error reaches the user as one line with its exit code', async () => {
    standIn.failNext('CreateInstances', 'AccessDeniedException', 1, 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lightsail:CreateInstances');
    const up = await cli.run(['up', '--id', `${envId}-denied`], { cwd: hello });
    expect(up.code).toBe(1);
    expect(errorLines(up.stderr)).toEqual([expect.stringMatching(/AWS denied lightsail:CreateInstances \(.*\): allow lightsail:CreateInstances in the IAM policy of these credentials$/)]);
    const deniedDown = await cli.run(['down', '--id', `${envId}-denied`], { cwd: hello });
    expect(deniedDown.code, deniedDown.stderr).toBe(0);
    expect(standIn.instances()).toEqual([]);

    // Throttled past the SDK's retries: the environment's fault, exit 2.
    standIn.failNext('GetInstances', 'ThrottlingException', 3, 'Rate exceeded');
    const throttled = await cli.run(['up', '--id', `${envId}-thr`], { cwd: hello });
    expect(throttled.code).toBe(2);
    expect(errorLines(throttled.stderr)).toEqual([expect.stringMatching(/AWS kept throttling lightsail:GetInstances after the SDK's retries: wait a minute and retry/)]);
    const throttledDown = await cli.run(['down', '--id', `${envId}-thr`], { cwd: hello });
    expect(throttledDown.code, throttledDown.stderr).toBe(0);
    expect(standIn.instances()).toEqual([]);
  });

  it('past its TTL, the agent deletes its own instance with the delete-only key while no CLI runs; gc then forgets the env', async () => {
    const id = `${envId}-ttl`;
    kit.defer(`compose down prevu-${id}`, () => machine.docker(['compose', '-p', `prevu-${id}`, 'down', '--volumes', '--remove-orphans', '--timeout', '1'], { cwd: tmpdir() }));
    const env = {
      PREVU_LIGHTSAIL_DELETE_ACCESS_KEY_ID: DELETER.accessKeyId,
      PREVU_LIGHTSAIL_DELETE_SECRET_ACCESS_KEY: DELETER.secretAccessKey,
      // the instance reaches the API by another address than the CLI
      PREVU_LIGHTSAIL_AGENT_ENDPOINT: `http://host.docker.internal:${standIn.port}`,
      PREVU_SHORT_DURATIONS: '1',
    };
    // pinned while `up` waits for its URLs (3 s could pass in it), then unpinned: the CLI's last word
    const up = await cli.run(['up', '--id', id, '--ttl', '3s', '--pin'], { cwd: hello, env });
    expect(up.code, up.stderr).toBe(0);
    expect(standIn.instances().map((i) => i.name)).toEqual([`prevu-cloud-${id}`]);
    const unpin = await cli.run(['unpin', id]);
    expect(unpin.code, unpin.stderr).toBe(0);
    await waitFor('the agent to delete its instance', async () => (standIn.instances().length === 0 ? true : undefined), 120_000, 500);
    // signed with the delete-only key, which asked for nothing else
    const signed = standIn.calls.filter((c) => c.accessKeyId === DELETER.accessKeyId);
    expect(signed.map((c) => [c.operation, c.status, c.input.instanceName])).toEqual([['DeleteInstance', 200, `prevu-cloud-${id}`]]);
    const gc = await cli.run(['gc', '--json']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)).toEqual({ envs: [{ envId: id, expiresAt: expect.any(String), removed: true, keptVolumes: [] }] });
    expect((await cli.run(['ls', '--json'])).stdout).not.toContain(id);
  }, 300_000);

  it('a bad lightsail setting is refused at init in one line (exit 1), and no profile is left', async () => {
    const init = await cli.run(['init', '--name', 'bad', '--driver', 'lightsail', '--set', 'region=Frankfurt']);
    expect(init.code).toBe(1);
    expect(errorLines(init.stderr)).toEqual([expect.stringMatching(/invalid lightsail setting region \(a region looks like us-east-1\): set it with `prevu init --driver lightsail --set region=\.\.\.`/)]);
    expect((await cli.run(['profile', 'ls', '--json'])).stdout).not.toMatch(/"bad"/);
  });
});
