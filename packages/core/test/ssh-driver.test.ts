// The ssh driver against a real OpenSSH server on loopback (the test kit's sshd), whose "remote"
// Docker is this machine's engine, reached only through the socket forwarded over SSH.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, startSshd, useKit, waitFor, type Sshd } from '@prevu/test-kit';
import { machineHostKeys } from '../src/drivers/index.js';
import { createSshDriver, type SshDriver, type SshSettingsInput } from '../src/drivers/ssh.js';
import { uploadTree } from '../src/drivers/ssh-upload.js';
import { pinFingerprint } from '../src/ssh-fingerprint.js';
import { ed25519KeyPair } from '../src/ssh-keys.js';
import { dockerServerVersion } from './machine-docker.js';
import { prevuFailure } from './prevu-failure.js';

const run = promisify(execFile);
const kit = useKit();
let sshd: Sshd;
let work: string;
let knownHosts: string;
let baseDir: string;

function driver(overrides: Partial<SshSettingsInput> = {}): SshDriver {
  const d = createSshDriver({
    host: `${sshd.user}@${sshd.host}:${sshd.port}`,
    privateKeyPath: sshd.privateKeyPath!,
    knownHostsPath: knownHosts,
    baseDir,
    ...overrides,
  });
  kit.defer('ssh driver', () => d.close());
  return d;
}

beforeAll(async () => {
  sshd = await startSshd(kit);
  work = mkdtempSync(join(tmpdir(), 'prevu-ssh-driver-'));
  kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
  knownHosts = join(work, 'profile', 'known_hosts');
  // The "remote" base dir: the host is this machine, so a temp dir keeps it unpolluted.
  baseDir = join(work, 'remote-envs');
});

describe('connecting', () => {
  it('records the host key on first use (OpenSSH known_hosts format) and accepts it after', async () => {
    await driver().ensureMachine('first');
    const lines = readFileSync(knownHosts, 'utf8').trim().split('\n');
    expect(lines).toEqual([`[${sshd.host}]:${sshd.port} ${sshd.hostPublicKey}`]);
    // OpenSSH itself agrees with the file prevu wrote.
    const { stdout } = await run('ssh-keygen', ['-F', `[${sshd.host}]:${sshd.port}`, '-f', knownHosts]);
    expect(stdout).toContain(sshd.hostPublicKey);

    await driver().ensureMachine('first');
    expect(readFileSync(knownHosts, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(baseDir, 'first', 'env.json'))).toBe(true);
  });

  it('reaches a host on another loopback address (the Lightsail stand-in VM)', async () => {
    const other = await startSshd(kit, { address: '127.0.0.2', authorizedKey: sshd.publicKey! });
    const machine = await driver({ host: `${other.user}@${other.host}:${other.port}` }).ensureMachine('first');
    expect(await dockerServerVersion(machine)).toMatch(/^\d+\./);
    // It was this sshd that let prevu in, from its own loopback address.
    expect(other.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.\d+/);
    await other.stop();
  });

  it('refuses a host that offers only legacy key exchange', async () => {
    const legacy = await startSshd(kit, { authorizedKey: sshd.publicKey!, config: ['KexAlgorithms diffie-hellman-group14-sha256'] });
    const error = await prevuFailure(driver({ host: `${legacy.user}@${legacy.host}:${legacy.port}` }).ensureMachine('first'));
    expect(error.code).toBe('PREVU_SSH_UNREACHABLE');
    expect(error.message).toMatch(/no matching key exchange algorithm; prevu accepts only curve25519 key exchange/);
    await legacy.stop();
  });

  it("reads the user's OpenSSH known_hosts: a hashed entry for another of the host's key types is known", async () => {
    const ecdsa = join(work, 'host_ecdsa');
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', ecdsa]);
    const multi = await startSshd(kit, { authorizedKey: sshd.publicKey!, config: [`HostKey ${ecdsa}`] });
    const file = join(work, 'known_hosts_hashed');
    writeFileSync(file, `[${multi.host}]:${multi.port} ${readFileSync(`${ecdsa}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    await run('ssh-keygen', ['-H', '-f', file]);
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    await driver({ host: `${multi.user}@${multi.host}:${multi.port}`, knownHostsPath: file }).ensureMachine('first');
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    await multi.stop();
  });

  it('names the key the host rejected (user error)', async () => {
    const other = join(work, 'other_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const error = await prevuFailure(driver({ privateKeyPath: other }).ensureMachine('first'));
    expect(error.code).toBe('PREVU_SSH_AUTH_FAILED');
    expect(error.line).toBe(`${sshd.user}@${sshd.host}:${sshd.port} rejected the SSH key ${other}: add the key's public half to ~/.ssh/authorized_keys of that user on the host`);
    expect(error.exitCode).toBe(1);
  });

  it('says a closed port is unreachable (environment error)', async () => {
    const port = await freePort();
    const error = await prevuFailure(driver({ host: `root@127.0.0.1:${port}` }).ensureMachine('first'));
    expect(error.code).toBe('PREVU_SSH_UNREACHABLE');
    expect(error.line).toMatch(new RegExp(`^cannot reach SSH at root@127.0.0.1:${port} \\(connection refused\\): `));
    expect(error.exitCode).toBe(2);
  });

  it('rejects bad settings with one line', async () => {
    expect(() => createSshDriver({ host: 'root@bad host', privateKey: 'x', knownHostsPath: knownHosts })).toThrow(/ssh host "root@bad host" is not user@host:port/);
    expect(() => createSshDriver({ host: 'h', privateKeyPath: join(work, 'missing'), knownHostsPath: knownHosts })).toThrow(/the SSH private key .*missing is unusable \(no such file\)/);
    expect(() => createSshDriver({ host: 'h', privateKey: 'not a key', knownHostsPath: knownHosts })).toThrow(/the SSH private key the profile key is unusable/);
  });

  it('says Docker is not reachable on the host when its socket is not there', async () => {
    const error = await prevuFailure(driver({ dockerSocket: '/run/prevu-no-docker.sock' }).ensureMachine('first'));
    expect(error.code).toBe('PREVU_REMOTE_DOCKER_DOWN');
    expect(error.line).toMatch(/^Docker on .* is not reachable \(\/run\/prevu-no-docker.sock: .*\): install and start Docker there/);
    expect(error.exitCode).toBe(2);
  });
});

describe('docker through the forwarded socket', () => {
  it('runs docker and compose (build, up --wait, exec with stdin, logs -f, events, down) against the host engine', async () => {
    const machine = await driver().ensureMachine('compose');
    const endpoint = await machine.docker();
    kit.defer('docker endpoint', () => endpoint.close());
    const socket = endpoint.env.DOCKER_HOST!.replace('unix://', '');
    expect(endpoint.env.DOCKER_HOST).toMatch(/^unix:\/\/.*\/docker\.sock$/);
    expect(statSync(join(socket, '..')).mode & 0o777).toBe(0o700);
    const env = { ...process.env, ...endpoint.env };

    const { stdout: version } = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env });
    expect(version.trim()).toMatch(/^\d+\.\d+/);

    const project = await kit.composeProject({
      files: {
        'compose.yaml': [
          'services:',
          '  web:',
          '    build: ./web',
          '    command: ["sh", "-c", "echo prevu-ssh-ready; exec httpd -f -p 8080"]',
          '    healthcheck: { test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/"], interval: 1s, retries: 30 }',
          '',
        ].join('\n'),
        'web/Dockerfile': 'FROM busybox:latest\nCOPY index.html /www/index.html\nWORKDIR /www\n',
        'web/index.html': 'hello over ssh\n',
      },
    });
    const compose = (args: string[]) =>
      run('docker', ['compose', '-p', project.name, '--project-directory', project.dir, '-f', join(project.dir, 'compose.yaml'), '-f', join(project.dir, '.prevu-test-labels.json'), ...args], { env, maxBuffer: 16 << 20 });
    const started = String(Math.floor(Date.now() / 1000) - 1);
    await compose(['up', '-d', '--build', '--wait']);
    const { stdout: ps } = await compose(['ps', '--format', '{{.Service}} {{.Health}}']);
    expect(ps.trim()).toBe('web healthy');
    const { stdout: logs } = await compose(['logs', 'web']);
    expect(logs).toContain('prevu-ssh-ready');
    const { stdout: page } = await compose(['exec', '-T', 'web', 'cat', '/www/index.html']);
    expect(page).toBe('hello over ssh\n');
    // stdin's end reaches the container (a half-close through the socket and the channel).
    const piped = compose(['exec', '-T', 'web', 'sh', '-c', 'cat; echo done']);
    piped.child.stdin!.end('piped through\n');
    expect((await piped).stdout).toBe('piped through\ndone\n');
    // Streams stay open through the socket: logs -f sees a line written after it started.
    const follow = await kit.start({ command: 'docker', args: ['compose', '-p', project.name, 'logs', '-f', '--no-log-prefix', 'web'], env: endpoint.env, cwd: project.dir, readyLine: /prevu-ssh-ready/ });
    await compose(['exec', '-T', 'web', 'sh', '-c', 'echo followed-line > /proc/1/fd/1']);
    await waitFor('the followed line', async () => (follow.output().includes('followed-line') ? true : undefined));
    await follow.stop();
    const { stdout: events } = await run('docker', ['events', '--since', started, '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `label=com.docker.compose.project=${project.name}`, '--format', '{{.Action}}'], { env });
    expect(events.split('\n')).toContain('start');
    await compose(['down', '--timeout', '1']);
    const { stdout: after } = await compose(['ps', '-aq']);
    expect(after.trim()).toBe('');

    await endpoint.close();
    expect(existsSync(socket)).toBe(false);
  });
});

describe('upload', () => {
  it('copies trees and files to the env dir, then sends only what changed and deletes what is gone', async () => {
    const src = join(work, 'project');
    mkdirSync(join(src, 'app', 'lib', 'empty'), { recursive: true });
    writeFileSync(join(src, 'app', 'index.js'), 'console.log(1)\n');
    writeFileSync(join(src, 'app', 'lib', 'util.js'), 'export {}\n');
    writeFileSync(join(src, 'app', 'run.sh'), '#!/bin/sh\necho run\n');
    chmodSync(join(src, 'app', 'run.sh'), 0o755);
    writeFileSync(join(src, 'app', 'secret.txt'), 'only me\n');
    chmodSync(join(src, 'app', 'secret.txt'), 0o600);
    symlinkSync('lib/util.js', join(src, 'app', 'link.js'));
    writeFileSync(join(src, 'nginx.conf'), 'events {}\n');
    // A bind mount inside a build context shares the context's copy.
    const paths = [join(src, 'app'), join(src, 'app', 'lib'), join(src, 'nginx.conf'), join(src, 'not-there')];

    const d = driver();
    const machine = await d.ensureMachine('upload');
    const envDir = join(baseDir, 'upload');
    const first = await machine.upload({ paths });
    expect(first.filesSent).toBe(6);
    expect(first.filesUnchanged).toBe(0);
    for (const p of paths) expect(first.mapping.get(p)).toBe(join(envDir, 'files', p));
    const remote = (p: string) => first.mapping.get(join(src, p)) ?? join(envDir, 'files', src, p);
    expect(readFileSync(remote('app/index.js'), 'utf8')).toBe('console.log(1)\n');
    expect(readFileSync(remote('nginx.conf'), 'utf8')).toBe('events {}\n');
    expect(statSync(remote('app/run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(remote('app/secret.txt')).mode & 0o777).toBe(0o600);
    expect(readlinkSync(remote('app/link.js'))).toBe('lib/util.js');
    expect(statSync(remote('app/lib/empty')).isDirectory()).toBe(true);
    expect(existsSync(remote('not-there'))).toBe(false);

    const again = await machine.upload({ paths });
    expect(again).toMatchObject({ filesSent: 0, filesUnchanged: 6 });

    writeFileSync(join(src, 'app', 'index.js'), 'console.log(2)\n');
    utimesSync(join(src, 'app', 'index.js'), new Date(), new Date(Date.now() + 5000));
    rmSync(join(src, 'app', 'lib', 'util.js'));
    rmSync(join(src, 'app', 'lib', 'empty'), { recursive: true });
    // A file a container wrote into the bind-mounted dir is not prevu's to delete.
    writeFileSync(remote('app/lib/data.db'), 'container data');
    const third = await machine.upload({ paths });
    expect(third).toMatchObject({ filesSent: 1, filesUnchanged: 4 });
    expect(readFileSync(remote('app/index.js'), 'utf8')).toBe('console.log(2)\n');
    expect(existsSync(remote('app/lib/util.js'))).toBe(false);
    expect(existsSync(remote('app/lib/empty'))).toBe(false);
    expect(readFileSync(remote('app/lib/data.db'), 'utf8')).toBe('container data');
    expect(lstatSync(remote('app/link.js')).isSymbolicLink()).toBe(true);

    // `..` never leads out of the files dir.
    const sneaky = `${src}/../../../../../../../../../..${src}/nginx.conf`;
    expect((await machine.upload({ paths: [join(src, 'app'), sneaky] })).mapping.get(sneaky)).toBe(remote('nginx.conf'));

    // Ctrl-C in the middle of an upload (here: right after it deleted the copy of nginx.conf, no
    // longer asked for): the manifest never vouches for what the cut left, the next upload repairs it.
    let checks = 0;
    const cutAfterTheDelete = { get aborted() { return ++checks > 2; }, reason: new Error('interrupted') } as unknown as AbortSignal;
    await expect(machine.upload({ paths: [join(src, 'app')] }, cutAfterTheDelete)).rejects.toThrow('interrupted');
    expect(existsSync(remote('nginx.conf'))).toBe(false);
    const repaired = await machine.upload({ paths });
    expect(repaired).toMatchObject({ filesSent: 1, filesUnchanged: 4 });
    expect(readFileSync(remote('nginx.conf'), 'utf8')).toBe('events {}\n');

    // A path no longer needed leaves the host too.
    const fourth = await machine.upload({ paths: [join(src, 'app')] });
    expect(fourth.filesSent).toBe(0);
    expect(existsSync(remote('nginx.conf'))).toBe(false);
  });

  it('never writes through a link planted in the copy on the host (a container writing into a bind mount)', async () => {
    const src = join(work, 'planted');
    mkdirSync(join(src, 'conf'), { recursive: true });
    writeFileSync(join(src, 'conf', 'app.conf'), 'listen 80\n');
    writeFileSync(join(src, 'key'), 'secret v1\n');
    chmodSync(join(src, 'key'), 0o600);
    writeFileSync(join(src, 'run.sh'), 'echo run\n');
    const victim = join(work, 'victim');
    mkdirSync(victim, { recursive: true });
    for (const name of ['app.conf', 'key', 'run.sh']) writeFileSync(join(victim, name), `the host's own ${name}\n`, { mode: 0o644 });
    const touch = (file: string, content: string) => {
      writeFileSync(join(src, file), content);
      utimesSync(join(src, file), new Date(), new Date(Date.now() + 5000));
    };
    const machine = await driver().ensureMachine('planted');
    const { mapping } = await machine.upload({ paths: [src] });
    const remote = (p: string) => join(mapping.get(src)!, p);
    const plant = (p: string, target: string) => {
      rmSync(remote(p), { recursive: true, force: true });
      symlinkSync(target, remote(p));
    };

    // A changed file replaces the link (renamed over it), its target stays as it was.
    plant('key', join(victim, 'key'));
    touch('key', 'secret v2, longer\n');
    expect((await machine.upload({ paths: [src] })).filesSent).toBe(1);
    expect(lstatSync(remote('key')).isFile()).toBe(true);
    expect(readFileSync(remote('key'), 'utf8')).toBe('secret v2, longer\n');
    expect(statSync(remote('key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(victim, 'key'), 'utf8')).toBe("the host's own key\n");

    // A mode change is not made through a link: the upload stops in one line.
    plant('run.sh', join(victim, 'run.sh'));
    chmodSync(join(src, 'run.sh'), 0o755);
    const chmodThrough = await prevuFailure(machine.upload({ paths: [src] }));
    expect(chmodThrough.code).toBe('PREVU_UPLOAD_LINK');
    expect(chmodThrough.line).toMatch(new RegExp(`^${remote('run.sh')} on the host is a symbolic link where prevu keeps a copy of the project's files, and prevu does not write through links: `));
    expect(statSync(join(victim, 'run.sh')).mode & 0o777).toBe(0o644);
    rmSync(remote('run.sh'));

    // A directory replaced by a link: nothing is written into its target.
    plant('conf', victim);
    touch('conf/app.conf', 'listen 8080\n');
    expect((await prevuFailure(machine.upload({ paths: [src] }))).code).toBe('PREVU_UPLOAD_LINK');
    expect(readFileSync(join(victim, 'app.conf'), 'utf8')).toBe("the host's own app.conf\n");
    expect(readdirSync(victim).sort()).toEqual(['app.conf', 'key', 'run.sh']);
  });

  it('creates each file with its mode (exclusively, at a fresh name), never fastPut', async () => {
    const src = join(work, 'modes');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'id_ed25519'), 'private\n', { mode: 0o600 });
    writeFileSync(join(src, 'public.txt'), 'public\n', { mode: 0o644 });
    const opened: { path: string; flags: string; mode?: number }[] = [];
    const methods: string[] = [];
    const d = driver();
    await d.ensureMachine('modes');
    await d.withSftp((sftp) => {
      const recording = new Proxy(sftp, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            methods.push(String(name));
            if (name === 'open') opened.push({ path: args[0] as string, flags: args[1] as string, mode: (args[2] as { mode?: number } | undefined)?.mode });
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      return uploadTree([src], { sftp: recording, filesDir: join(baseDir, 'modes', 'files'), manifestPath: join(baseDir, 'modes', 'manifest.json'), concurrency: 4 });
    });
    expect(methods).not.toContain('fastPut');
    // Owner-only from the first byte, whatever the final mode; at a name nobody could plant a link at.
    expect(opened.map((o) => [o.flags, o.mode])).toEqual([['wx', 0o600], ['wx', 0o600]]);
    for (const o of opened) expect(o.path).toMatch(new RegExp(`^${join(baseDir, 'modes', 'files', src)}/\\.prevu-[\\w-]{12}\\.tmp$`));
    expect(statSync(join(baseDir, 'modes', 'files', src, 'public.txt')).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(baseDir, 'modes', 'files', src)).sort()).toEqual(['id_ed25519', 'public.txt']);
  });

  it("leaves out of a build context what its .dockerignore leaves out of the build, but never a bind mount's files", async () => {
    const ctx = join(work, 'ignoring');
    const files: Record<string, string> = {
      'Dockerfile': 'FROM busybox:latest\n',
      'server.js': 'ok\n',
      'debug.log': 'noise\n',
      'keep.log': 'kept by a ! rule\n',
      'node_modules/dep/index.js': 'heavy\n',
      'cache/blob': 'x\n',
      'cache/README': 'taken back by a ! rule\n',
      'data/seed.sql': 'mounted, so sent\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(ctx, rel, '..'), { recursive: true });
      writeFileSync(join(ctx, rel), text);
    }
    const ignore = { [ctx]: ['node_modules', '*.log', '!keep.log', 'cache', '!cache/README', 'data'] };
    const machine = await driver().ensureMachine('ignoring');
    const first = await machine.upload({ paths: [ctx, join(ctx, 'data')], ignore });
    const remote = (rel: string) => join(first.mapping.get(ctx)!, rel);
    const sent = ['Dockerfile', 'server.js', 'keep.log', 'cache/README', 'data/seed.sql'];
    expect(first.filesSent).toBe(sent.length);
    for (const rel of sent) expect(readFileSync(remote(rel), 'utf8'), rel).toBe(files[rel]);
    for (const rel of ['debug.log', 'node_modules', 'cache/blob']) expect(existsSync(remote(rel)), rel).toBe(false);

    // Without the rules (the context is now also mounted) the rest follows; with them again it goes.
    expect((await machine.upload({ paths: [ctx] })).filesSent).toBe(3);
    expect(readFileSync(remote('node_modules/dep/index.js'), 'utf8')).toBe('heavy\n');
    await machine.upload({ paths: [ctx, join(ctx, 'data')], ignore });
    expect(existsSync(remote('node_modules'))).toBe(false);
    expect(existsSync(remote('cache/blob'))).toBe(false);
  });

  it('sends the union of nested build contexts, each walked with its own rules', async () => {
    const outer = join(work, 'nested');
    const inner = join(outer, 'web');
    for (const [rel, text] of Object.entries({ 'README.md': 'outer\n', 'web/src/app.js': 'app\n', 'web/dist/main.js': 'built\n', 'web/notes.txt': 'notes\n' })) {
      mkdirSync(join(outer, rel, '..'), { recursive: true });
      writeFileSync(join(outer, rel), text);
    }
    // The outer build reads all of web/; the inner one (a whitelist) only web/src.
    const ignore = { [outer]: ['*.md'], [inner]: ['*', '!src'] };
    const machine = await driver().ensureMachine('nested');
    const sent = await machine.upload({ paths: [outer, inner], ignore });
    const remote = (rel: string) => join(sent.mapping.get(outer)!, rel);
    for (const rel of ['web/src/app.js', 'web/dist/main.js', 'web/notes.txt']) expect(readFileSync(remote(rel), 'utf8'), rel).toBe(readFileSync(join(outer, rel), 'utf8'));
    expect(existsSync(remote('README.md'))).toBe(false);
  });
});

describe('envs on the host', () => {
  it('lists env dirs and removes one (the host itself stays)', async () => {
    const d = driver();
    await d.ensureMachine('listed');
    const listed = await d.list();
    const record = listed.find((r) => r.envId === 'listed');
    expect(record).toMatchObject({ driver: 'ssh', host: sshd.host, state: 'no containers' });
    expect(record!.createdAt).toBeInstanceOf(Date);

    // false: the host is not the driver's to delete, so named volumes stay on it
    expect(await d.remove('listed')).toBe(false);
    expect(existsSync(join(baseDir, 'listed'))).toBe(false);
    expect((await d.list()).map((r) => r.envId)).not.toContain('listed');
    await d.remove('listed');
    // The host stays reachable for `down` of containers whose env dir is gone.
    const endpoint = await (await d.findMachine('listed')).docker();
    kit.defer('docker endpoint', () => endpoint.close());
    const { stdout } = await run('docker', ['ps', '-q', '--filter', 'label=com.docker.compose.project=prevu-listed'], { env: { ...process.env, ...endpoint.env } });
    expect(stdout.trim()).toBe('');
  });

  it('refuses an env id that is not normalized (it becomes a path on the host)', async () => {
    const error = await prevuFailure(driver().remove('../etc'));
    expect(error.code).toBe('PREVU_ENV_ID_NOT_NORMALIZED');
  });
});

describe('keep-alives', () => {
  it('are sent on an idle connection (a long build is never cut by an idle timeout)', async () => {
    const chatty = await startSshd(kit, { authorizedKey: sshd.publicKey!, config: ['LogLevel DEBUG1'] });
    const d = driver({ host: `${chatty.user}@${chatty.host}:${chatty.port}`, keepAliveSeconds: 1 });
    await d.ensureMachine('first');
    await waitFor('two keep-alives in the sshd log', async () => (chatty.log().match(/rtype keepalive@openssh\.com want_reply 1/g)?.length ?? 0) >= 2 || undefined, 10_000);
    await d.close();
    await chatty.stop();
  });
});

describe('a dropped connection', () => {
  it('is made again on next use; an open docker endpoint keeps working', async () => {
    const d = driver();
    const machine = await d.ensureMachine('first');
    const endpoint = await machine.docker();
    kit.defer('docker endpoint', () => endpoint.close());
    const first = await d.connection();
    first.end();
    await new Promise((resolve) => first.once('close', resolve));
    const { stdout } = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, ...endpoint.env } });
    expect(stdout.trim()).toMatch(/^\d+\.\d+/);
    expect(await d.connection()).not.toBe(first);
  });
});

// Last: it rebuilds the host with a new key.
describe('host key', () => {
  it('a pinned key (hostKey setting) is the only one accepted, from the first contact on; known_hosts is left alone', async () => {
    const pinnedHosts = join(work, 'pinned', 'known_hosts');
    const pinned = (hostKey: SshSettingsInput['hostKey']) => driver({ hostKey, knownHostsPath: pinnedHosts });
    const other = ed25519KeyPair().public;
    // A first contact that trust-on-first-use would have accepted and recorded.
    for (const wrong of [pinFingerprint(other), other]) {
      const error = await prevuFailure(pinned(wrong).ensureMachine('pinned'));
      expect(error.code).toBe('PREVU_HOST_KEY_NOT_PINNED');
      expect(error.line).toBe(`the SSH host key of ${sshd.user}@${sshd.host}:${sshd.port} is not the one pinned for it: something may sit between prevu and it: stop here; if its key changed on purpose, pin the new one (\`--set hostKey=SHA256:...\` for an ssh host, \`--tunnel-host-key\` for a tunnel server)`);
    }
    for (const right of [sshd.hostKeyFingerprint, `${sshd.hostPublicKey} the comment`, [pinFingerprint(other), sshd.hostKeyFingerprint]]) {
      expect((await pinned(right).ensureMachine('pinned')).envId).toBe('pinned');
    }
    expect(existsSync(pinnedHosts)).toBe(false);
    expect(() => pinned('SHA256:short')).toThrow(/invalid ssh setting hostKey \(a host key is SHA256:\.\.\. \(ssh-keygen -lf\)/);
  });

  it('doctor\'s line says how each driver\'s host keys are checked', async () => {
    const profile = (driver: string, driverOptions: Record<string, unknown>) => ({ version: 1 as const, name: 'p', driver, driverOptions, tunnelServer: { type: 'embedded' as const }, private: false, createdAt: '' });
    const profileDir = join(work, 'doctor');
    const host = `${sshd.user}@${sshd.host}:${sshd.port}`;
    expect(machineHostKeys({ profile: profile('ssh', { host }), profileDir })).toBe('ssh host not contacted yet: recorded on first use (pin it: --set hostKey=SHA256:...)');
    await driver({ knownHostsPath: join(profileDir, 'known_hosts') }).ensureMachine('doctor');
    expect(machineHostKeys({ profile: profile('ssh', { host }), profileDir })).toBe(`ssh host recorded on first use in ${join(profileDir, 'known_hosts')} (pin it: --set hostKey=SHA256:...)`);
    expect(machineHostKeys({ profile: profile('ssh', { host, hostKey: sshd.hostPublicKey }), profileDir })).toBe(`ssh host pinned (${sshd.hostKeyFingerprint})`);
    expect(machineHostKeys({ profile: profile('lightsail', {}), profileDir })).toMatch(/^Lightsail instances pinned to the host keys AWS reports \(GetInstanceAccessDetails/);
  });

  it('refuses a host whose key changed, in one line (user error)', async () => {
    await driver().ensureMachine('first');
    await sshd.restart({ newHostKey: true });
    const error = await prevuFailure(driver().ensureMachine('first'));
    expect(error.code).toBe('PREVU_HOST_KEY_MISMATCH');
    expect(error.line).toBe(`the SSH host key of ${sshd.user}@${sshd.host}:${sshd.port} does not match the one recorded: if the host was rebuilt, remove its line from the profile known_hosts and retry`);
    expect(error.exitCode).toBe(1);
    expect(readFileSync(knownHosts, 'utf8')).not.toContain(sshd.hostPublicKey);
  });
});
