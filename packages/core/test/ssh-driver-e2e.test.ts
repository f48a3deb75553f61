// `prevu up` end to end over the ssh driver: the real CLI, a real OpenSSH server on loopback (the
// test kit's sshd), the host's Docker reached only through the socket forwarded over SSH, the
// embedded tunnel server. The host is this machine, so `up` runs in a mount namespace where the
// host's env dir is an empty tmpfs: the CLI cannot read the uploaded copies, as on a real remote.
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, httpGet, runId, startSshd, useKit, waitFor, type Sshd } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, embeddedCliHome, HELLO, type CliHome, type CliResult } from '../../cli/test/cli.js';
import { tunnelExec } from '../src/tunnel-hello.js';

const kit = useKit();
let cli: CliHome;
let sshd: Sshd;
let remoteBase: string;
let hello: string;
let urls: string[];
let agentKey: string;
// Its own branch, so the env never meets another test's `hello-main` on the shared engine.
const envId = `hello-ssh-${runId}`;
const project = `prevu-${envId}`;

const urlsOf = (table: string) => [...table.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).sort();
const containersOf = async (project: string) => (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).trim().split('\n').filter(Boolean);

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
  cli = await embeddedCliHome(kit);
  sshd = await startSshd(kit);
  const work = mkdtempSync(join(tmpdir(), 'prevu-ssh-e2e-'));
  kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
  remoteBase = join(work, 'remote-envs');
  mkdirSync(remoteBase);
  hello = join(work, 'hello');
  cpSync(HELLO, hello, { recursive: true });
  await new Promise((done) => execFile('git', ['init', '-q', '-b', `ssh-${runId}`], { cwd: hello }, done));

  const init = await cli.run(['init', '--name', 'box', '--driver', 'ssh', '--set', `host=${sshd.user}@${sshd.host}:${sshd.port}`, '--set', `baseDir=${remoteBase}`, '--json']);
  expect(init.code, init.stderr).toBe(0);
  // The account key logs in to the host (its public half in authorized_keys, as a user would add it).
  sshd.authorize((JSON.parse(init.stdout) as { publicKey: string }).publicKey);
});

describe('prevu up over the ssh driver', () => {
  it('up: files uploaded to the env dir on the host, every URL answers 200 through the tunnel server', async () => {
    // The same engine as the host's: compose removes the project even after the host key changed.
    kit.defer(`compose down ${project}`, () => docker(['compose', '-p', project, 'down', '--volumes', '--remove-orphans', '--timeout', '1'], { cwd: tmpdir() }));
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
    const [web] = await containersOf(project).then((ids) => Promise.all(ids.map((id) => docker(['inspect', '--format', '{{.Config.Labels}} {{json .Mounts}}', id]))).then((all) => all.filter((i) => i.includes('service:web'))));
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
    expect(await docker(['exec', `${project}-prevu-agent-1`, 'cat', '/run/secrets/prevu_key'])).toBe(agentKey);

    // A second up sends only the changed file, and the site serves it.
    writeFileSync(join(hello, 'web', 'index.html'), '<h1>changed over ssh</h1>\n');
    const again = await upElsewhere(['up', '--json', '--debug']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/Upload the project files: 1 sent, [1-9]\d* unchanged/);
    expect((JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { urls: { url: string }[] }).urls.map((u) => u.url).sort()).toEqual(urls);
    expect((await httpGet(urls.find((u) => u.includes('//web-'))!)).body).toBe('<h1>changed over ssh</h1>\n');
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

  it('down removes the containers and the env dir on the host; URLs stop answering', async () => {
    const asAgent = async () => (JSON.parse((await tunnelExec({ address: `127.0.0.1:${cli.env.PREVU_EMBEDDED_SSH_PORT}`, privateKey: agentKey, envId, recordedIn: 'test' }, 'hello')).stdout) as { accountId: string }).accountId;
    const accountId = (JSON.parse((await cli.run(['profile', 'ls', '--json'])).stdout) as { profiles: { name: string; accountId: string }[] }).profiles.find((p) => p.name === 'box')!.accountId;
    expect(await asAgent()).toBe(accountId);
    const down = await cli.run(['down'], { cwd: hello });
    expect(down.code, down.stderr).toBe(0);
    // Its agent key is revoked: on its own it is no longer the account.
    expect(await asAgent()).not.toBe(accountId);
    expect(await containersOf(project)).toEqual([]);
    expect(existsSync(join(remoteBase, envId))).toBe(false);
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

  it('the embedded tunnel server with a machine whose Docker is another engine: one line, exit 1', async () => {
    // A stand-in engine speaking Docker's API (what `docker version` and `docker info` ask), with
    // its own engine ID: the ssh host's Docker as seen through --set dockerSocket.
    const socket = join(mkdtempSync(join(tmpdir(), 'prevu-engine-')), 'docker.sock');
    const engine = createServer((req, res) => {
      res.setHeader('Api-Version', '1.41');
      if (req.url === '/_ping') return res.end('OK');
      res.setHeader('Content-Type', 'application/json');
      if (req.url?.endsWith('/version')) return res.end(JSON.stringify({ Version: '99.0.0', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }));
      if (req.url?.endsWith('/info')) return res.end(JSON.stringify({ ID: 'ANOTHER-ENGINE', ServerVersion: '99.0.0' }));
      res.statusCode = 404;
      res.end('{"message":"not in the stand-in"}');
    });
    await new Promise<void>((listening) => engine.listen(socket, listening));
    kit.defer('docker engine stand-in', () => new Promise((closed) => engine.close(closed)));
    const init = await cli.run(['init', '--name', 'far', '--driver', 'ssh', '--set', `host=${sshd.user}@${sshd.host}:${sshd.port}`, '--set', `baseDir=${remoteBase}`, '--set', `dockerSocket=${socket}`, '--json']);
    expect(init.code, init.stderr).toBe(0);
    sshd.authorize((JSON.parse(init.stdout) as { publicKey: string }).publicKey);
    const up = await upElsewhere(['up', '--profile', 'far', '--id', 'far-away']);
    expect(up.code, up.stderr).toBe(1);
    const lines = up.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('›'));
    expect(lines).toEqual([expect.stringContaining("the embedded tunnel server runs on this machine's Docker, which the agent on the ssh machine cannot reach: give the profile a tunnel server the machine reaches: prevu init --driver ssh --tunnel-server host:port")]);
    // nothing was started, and the attempt stays listed (a real engine's `down` would remove it)
    const ls = JSON.parse((await cli.run(['ls', '--profile', 'far', '--json'])).stdout) as { envs: { envId: string; status: string }[] };
    expect(ls.envs).toEqual([expect.objectContaining({ envId: 'far-away', status: 'failed' })]);
  });

  it('a host whose key changed is refused in one line with exit code 1', async () => {
    await sshd.restart({ newHostKey: true });
    const up = await upElsewhere(['up']);
    expect(up.code).toBe(1);
    const lines = up.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('›'));
    expect(lines).toEqual([expect.stringContaining(`the SSH host key of ${sshd.user}@${sshd.host}:${sshd.port} does not match the one recorded: if the host was rebuilt, remove its line from the profile known_hosts and retry`)]);
    expect(await containersOf(project)).toEqual([]);
  });
});
