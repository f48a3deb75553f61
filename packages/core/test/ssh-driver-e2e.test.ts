// `prevu up` end to end over the ssh driver: the real CLI, a test machine from the test kit (a
// second Docker engine on this host, behind its own OpenSSH server), that engine reached only
// through the socket forwarded over SSH, and a tunnel server process both the CLI and the machine's
// agent reach. The machine's files are on this host's disk, so `up` runs in a mount namespace where
// the env dir is an empty tmpfs: the CLI cannot read the uploaded copies, as on a real remote.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeProjectResources, docker, httpGet, runId, startMachine, startSshd, startTunnelServer, useKit, waitFor, type Machine, type Sshd } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, embeddedCliHome, errorLines, HELLO, type CliHome, type CliResult } from '../../cli/test/cli.js';
import { tunnelExec } from '../src/tunnel-server-client.js';

const kit = useKit();
let cli: CliHome;
let machine: Machine;
let sshd: Sshd;
let remoteBase: string;
let hello: string;
let urls: string[];
let agentKey: string;
let tunnelSsh: number;
const envId = `hello-ssh-${runId}`;
const project = `prevu-${envId}`;

const urlsOf = (table: string) => [...table.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).sort();
const containersOf = async (project: string) => (await machine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).trim().split('\n').filter(Boolean);
const apiImage = () => machine.docker(['image', 'inspect', '--format', '{{.Id}}', `${project}-api`]).then((id) => id.trim());
/** `prevu <args>` where the host's env dirs are hidden from the CLI (a private mount namespace). */
function upElsewhere(args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      'unshare',
      ['--mount', 'sh', '-c', 'mount -t tmpfs prevu-hidden "$1" && shift && exec "$@"', 'sh', remoteBase, 'node', CLI, ...args],
      { cwd: hello, env: { ...process.env, ...cli.env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  machine = await startMachine(kit);
  sshd = machine.sshd;
  // On every address: the CLI reaches it on loopback, the machine's agent at host.docker.internal.
  const server = await startTunnelServer(kit, { listen: '0.0.0.0' });
  tunnelSsh = server.ports.ssh;
  // The embedded server is only for the engine check's profiles (its defer runs before the machine's).
  cli = await embeddedCliHome(kit);
  const work = mkdtempSync(join(tmpdir(), 'prevu-ssh-e2e-'));
  kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
  remoteBase = join(work, 'remote-envs');
  mkdirSync(remoteBase);
  hello = join(work, 'hello');
  cpSync(HELLO, hello, { recursive: true });
  await new Promise((done) => execFile('git', ['init', '-q', '-b', `ssh-${runId}`], { cwd: hello }, done));

  const init = await cli.run([
    'init', '--name', 'box', '--driver', 'ssh', '--set', `host=${sshd.user}@${sshd.host}:${sshd.port}`, '--set', `baseDir=${remoteBase}`,
    '--tunnel-server', `127.0.0.1:${server.ports.ssh}`, '--agent-tunnel-server', `host.docker.internal:${server.ports.ssh}`, '--json',
  ]);
  expect(init.code, init.stderr).toBe(0);
  // The account key logs in to the host (its public half in authorized_keys, as a user would add it).
  sshd.authorize((JSON.parse(init.stdout) as { publicKey: string }).publicKey);
});

describe('prevu up over the ssh driver', () => {
  it('up: files uploaded, images built on the machine, every URL answers 200 through the tunnel server', async () => {
    // Compose on the machine's engine removes the project even after the host key changed.
    kit.defer(`compose down ${project}`, () => machine.docker(['compose', '-p', project, 'down', '--volumes', '--remove-orphans', '--timeout', '1'], { cwd: tmpdir() }));
    const up = await upElsewhere(['up']);
    expect(up.code, up.stderr).toBe(0);
    const tail = up.stdout.trim().split('\n').slice(-3);
    expect(tail[0]).toMatch(/^SERVICE\s+PORT\s+URL\s+HEALTH$/);
    urls = urlsOf(tail.join('\n'));
    expect(urls).toHaveLength(2);
    for (const url of urls) expect((await httpGet(url)).status, url).toBe(200);
    expect((await httpGet(urls.find((u) => u.includes('//web-'))!)).body).toBe(readFileSync(join(hello, 'web', 'index.html'), 'utf8'));

    const files = join(remoteBase, envId, 'files');
    expect(readFileSync(join(files, hello, 'web', 'index.html'), 'utf8')).toBe(readFileSync(join(hello, 'web', 'index.html'), 'utf8'));
    // The bind mount of the running web container is the uploaded copy.
    const [web] = await containersOf(project).then((ids) => Promise.all(ids.map((id) => machine.docker(['inspect', '--format', '{{.Config.Labels}} {{json .Mounts}}', id]))).then((all) => all.filter((i) => i.includes('service:web'))));
    expect(web).toContain(join(files, hello, 'web'));
    // The host key was recorded on first use, in the profile.
    expect(readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'box', 'known_hosts'), 'utf8')).toContain(sshd.hostPublicKey);
    // The account key never went to the machine: the agent logs in with the env's own key.
    const profileDir = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'box');
    const accountKey = readFileSync(join(profileDir, 'id_ed25519'), 'utf8');
    agentKey = readFileSync(join(profileDir, 'envs', envId, 'agent_ed25519'), 'utf8');
    expect(agentKey).not.toBe(accountKey);
    // (a line inside the key: the first ones are the same in every ed25519 key file)
    const onHost = spawnSync('grep', ['-rlF', accountKey.split('\n')[3]!, join(remoteBase, envId)], { encoding: 'utf8' }).stdout.trim();
    expect(onHost).toBe('');
    expect(await machine.docker(['exec', `${project}-prevu-agent-1`, 'cat', '/run/secrets/prevu_key'])).toBe(agentKey);
    // The images were built by the machine's engine; the host engine has nothing of the env.
    const built = await apiImage();
    expect((await machine.contents()).images).toEqual(expect.arrayContaining([`${project}-api:latest`, expect.stringMatching(/^prevu-compose-tunnel-agent:/)]));
    expect(await composeProjectResources(project)).toEqual([]);

    // A second up sends only the changed files; the api is built again from its new source.
    writeFileSync(join(hello, 'web', 'index.html'), '<h1>changed over ssh</h1>\n');
    const server = join(hello, 'api', 'server.js');
    writeFileSync(server, readFileSync(server, 'utf8').replace("hello: 'from the api'", "hello: 'from the changed api'"));
    const again = await upElsewhere(['up', '--json', '--debug']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/Upload the project files: 2 sent, [1-9]\d* unchanged/);
    expect((JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { urls: { url: string }[] }).urls.map((u) => u.url).sort()).toEqual(urls);
    expect(await apiImage()).not.toBe(built);
    expect((await httpGet(urls.find((u) => u.includes('//web-'))!)).body).toBe('<h1>changed over ssh</h1>\n');
    expect(JSON.parse((await httpGet(urls.find((u) => u.includes('//api-'))!)).body)).toMatchObject({ hello: 'from the changed api', env: envId });

    // A new agent key (the old one deleted, say after a leak): the server drops the old one and
    // compose recreates the agent with the new one; the same URLs answer.
    rmSync(join(profileDir, 'envs', envId, 'agent_ed25519'));
    const rotated = await upElsewhere(['up', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKey = readFileSync(join(profileDir, 'envs', envId, 'agent_ed25519'), 'utf8');
    expect(newKey).not.toBe(agentKey);
    expect(await machine.docker(['exec', `${project}-prevu-agent-1`, 'cat', '/run/secrets/prevu_key'])).toBe(newKey);
    for (const url of urls) expect((await httpGet(url)).status, url).toBe(200);
    agentKey = newKey;
  });

  it('urls, status and logs (one service, all, -f) answer through the agent while the host refuses SSH', async () => {
    // The host's sshd is down: what these print can only come through the agent's private tunnel.
    await sshd.stop();
    try {
      const listed = await cli.run(['urls', '--json'], { cwd: hello });
      expect(listed.code, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout) as { urls: { url: string }[] }).urls.map((u) => u.url).sort()).toEqual(urls);

      const status = await cli.run(['status', '--json'], { cwd: hello });
      expect(status.code, status.stderr).toBe(0);
      const report = JSON.parse(status.stdout) as { agent: string; services: { service: string; state: string; health: string }[] };
      expect(report.agent).toBe('connected');
      expect(report.services).toEqual([
        { service: 'api', state: 'running', health: 'healthy' },
        { service: 'prevu-agent', state: 'running', health: '' },
        { service: 'web', state: 'running', health: '' },
      ]);

      const web = await cli.run(['logs', 'web'], { cwd: hello });
      expect(web.code, web.stderr).toBe(0);
      expect(web.stdout).toMatch(/^web: serving \/www on port 80$/m);
      const all = await cli.run(['logs', '--tail', '50'], { cwd: hello });
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout).toMatch(/^web \| web: serving \/www on port 80$/m);
      expect(all.stdout).toMatch(/^api \| /m);
      const unknown = await cli.run(['logs', 'nope'], { cwd: hello });
      expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'prevu: no service "nope" in ' + envId + ': choose from: api, prevu-agent, web']);

      const follow = await kit.start({ command: 'node', args: [CLI, 'logs', '-f', 'web'], cwd: hello, env: { ...process.env, ...cli.env }, readyLine: /web: serving/ });
      const responses = () => follow.output().split('\n').filter((l) => /response:200/.test(l)).length;
      await waitFor('the earlier requests in logs -f', async () => (responses() > 0 ? true : undefined), 15_000);
      const before = responses();
      expect((await httpGet(urls.find((u) => u.includes('//web-'))!)).status).toBe(200);
      await waitFor('the new request in logs -f', async () => (responses() > before ? true : undefined), 15_000);
      follow.child.kill('SIGINT');
      expect(await follow.exited).toBe(130);
    } finally {
      await sshd.restart();
    }
  });

  it('down removes the containers, networks and env dir on the machine, and revokes the agent key; URLs stop answering', async () => {
    const asAgent = async () => (JSON.parse((await tunnelExec({ address: `127.0.0.1:${tunnelSsh}`, privateKey: agentKey, envId, recordedIn: 'test' }, 'hello')).stdout) as { accountId: string }).accountId;
    const accountId = (JSON.parse((await cli.run(['profile', 'ls', '--json'])).stdout) as { profiles: { name: string; accountId: string }[] }).profiles.find((p) => p.name === 'box')!.accountId;
    expect(await asAgent()).toBe(accountId);
    const down = await cli.run(['down'], { cwd: hello });
    expect(down.code, down.stderr).toBe(0);
    // Its agent key is revoked: on its own it is no longer the account.
    expect(await asAgent()).not.toBe(accountId);
    expect(await containersOf(project)).toEqual([]);
    expect(existsSync(join(remoteBase, envId))).toBe(false);
    // Nothing is left on the machine's engine but images (a build cache, as on any host), nothing was on the host's.
    const left = await machine.contents();
    expect([left.containers, left.networks, left.volumes]).toEqual([[], [], []]);
    expect(await composeProjectResources(project)).toEqual([]);
    // The agent cancels its forwards when compose stops it: unknown host (404), not "tunnel gone" (502).
    for (const url of urls) {
      const res = await waitFor(`${url} to be gone`, async () => {
        const r = await httpGet(url);
        return r.headers['x-prevu-error'] ? r : undefined;
      });
      expect(res.status, url).toBe(404);
      expect(res.body).toMatch(/No tunnel for this address/);
    }
  });

  it('the embedded tunnel server with the machine, another engine on this host: one line, exit 1', async () => {
    // Both daemons give one engine ID (this host's /etc/docker/key.json): the check must see more.
    expect(await machine.docker(['info', '--format', '{{.ID}}'])).toBe(await docker(['info', '--format', '{{.ID}}']));
    const init = await cli.run(['init', '--name', 'far', '--driver', 'ssh', '--set', `host=${sshd.user}@${sshd.host}:${sshd.port}`, '--set', `baseDir=${remoteBase}`, '--json']);
    expect(init.code, init.stderr).toBe(0);
    sshd.authorize((JSON.parse(init.stdout) as { publicKey: string }).publicKey);
    const up = await upElsewhere(['up', '--profile', 'far', '--id', 'far-away']);
    expect(up.code, up.stderr).toBe(1);
    expect(errorLines(up.stderr)).toEqual([expect.stringContaining("the embedded tunnel server runs on this machine's Docker, which the agent on the ssh machine cannot reach: give the profile a tunnel server the machine reaches: prevu init --driver ssh --tunnel-server host:port")]);
    // nothing was started; the attempt stays listed, and down removes it
    expect(await containersOf('prevu-far-away')).toEqual([]);
    const ls = JSON.parse((await cli.run(['ls', '--profile', 'far', '--json'])).stdout) as { envs: { envId: string; status: string }[] };
    expect(ls.envs).toEqual([expect.objectContaining({ envId: 'far-away', status: 'failed' })]);
    const down = await cli.run(['down', '--profile', 'far', '--id', 'far-away']);
    expect(down.code, down.stderr).toBe(0);
    expect(existsSync(join(remoteBase, 'far-away'))).toBe(false);
  });

  it('the embedded tunnel server with an ssh host whose Docker is this engine: up serves its URL', async () => {
    const here = await startSshd(kit);
    const init = await cli.run(['init', '--name', 'near', '--driver', 'ssh', '--set', `host=${here.user}@${here.host}:${here.port}`, '--set', `baseDir=${remoteBase}`, '--json']);
    expect(init.code, init.stderr).toBe(0);
    here.authorize((JSON.parse(init.stdout) as { publicKey: string }).publicKey);
    const site = mkdtempSync(join(tmpdir(), 'prevu-near-'));
    kit.defer(`dir ${site}`, () => rmSync(site, { recursive: true, force: true }));
    writeFileSync(join(site, 'compose.yaml'), 'services:\n  web:\n    image: busybox:latest\n    init: true\n    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]\n    expose: ["80"]\n');
    const nearId = `near-${runId}`;
    kit.defer(`compose down prevu-${nearId}`, () => docker(['compose', '-p', `prevu-${nearId}`, 'down', '--remove-orphans', '--timeout', '1'], { cwd: tmpdir() }));
    const up = await cli.run(['up', '--profile', 'near', '--id', nearId, '--json'], { cwd: site });
    expect(up.code, up.stderr).toBe(0);
    const [url] = (JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { urls: { url: string }[] }).urls.map((u) => u.url);
    expect((await httpGet(`${url}/hostname`)).status).toBe(200);
    const down = await cli.run(['down', '--profile', 'near', '--id', nearId]);
    expect(down.code, down.stderr).toBe(0);
    expect(await composeProjectResources(`prevu-${nearId}`)).toEqual([]);
  });

  it('a host whose key changed is refused in one line with exit code 1', async () => {
    await sshd.restart({ newHostKey: true });
    // The profile of the first tests (init made the later ones current).
    const up = await upElsewhere(['up', '--profile', 'box']);
    expect(up.code).toBe(1);
    expect(errorLines(up.stderr)).toEqual([expect.stringContaining(`the SSH host key of ${sshd.user}@${sshd.host}:${sshd.port} does not match the one recorded: if the host was rebuilt, remove its line from the profile known_hosts and retry`)]);
    expect(await containersOf(project)).toEqual([]);
  });
});
