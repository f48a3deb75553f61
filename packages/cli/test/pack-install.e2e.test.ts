// prevu as a user gets it: every published package packed with `npm pack`, the tarballs installed
// into an empty folder outside the repository, and the quickstart flow run from there on a copy
// of examples/hello. The environment knows nothing of the checkout (no repository directory on
// PATH, no npm_* variables, a fresh HOME), so nothing can be found through the workspace.
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { httpGet, uniqueName, useKit } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedServerEnv, helloCopy } from './cli.js';

const run = promisify(execFile);
const kit = useKit();
const root = resolve(import.meta.dirname, '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'prevu-pack-'));
kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
const app = join(work, 'app');
const prevu = join(app, 'node_modules', '.bin', 'prevu');
const project = uniqueName('hello');
const envId = `${project}-main`;
const inRepo = (path: string) => resolve(path) === root || resolve(path).startsWith(root + sep);
let env: Record<string, string>;
let tarballFiles: string[];

/** Every package that is not private: what `npm publish --workspaces` would publish. */
function publishedPackages(): string[] {
  return readdirSync(join(root, 'packages'))
    .map((dir) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { name: string; private?: boolean })
    .filter((pkg) => !pkg.private)
    .map((pkg) => pkg.name);
}

/** Symbolic links under `dir` (bounded by the tree's size): none may lead into the repository. */
function linksInto(dir: string): string[] {
  const found: string[] = [];
  const pending = [dir];
  for (let seen = 0; pending.length && seen < 100_000; seen++) {
    const current = pending.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isSymbolicLink()) {
        if (inRepo(realpathSync(path))) found.push(path);
      } else if (entry.isDirectory()) pending.push(path);
    }
  }
  return found;
}

async function prevuRun(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(prevu, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** What the machine, not the repository, gives every program: how to reach the registry and Docker. */
const MACHINE_ENV = ['DOCKER_HOST', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];

beforeAll(async () => {
  // the user's npm settings (registry, CA, proxy) and cache, so third-party packages come as they would
  const npmConfig = async (key: string) => (await run('npm', ['config', 'get', key], { cwd: work })).stdout.trim();
  const home = join(work, 'home');
  mkdirSync(home);
  env = {
    ...Object.fromEntries(MACHINE_ENV.filter((k) => process.env[k]).map((k) => [k, process.env[k]!])),
    PATH: (process.env.PATH ?? '').split(delimiter).filter((p) => p && !inRepo(p)).join(delimiter),
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    npm_config_cache: await npmConfig('cache'),
    npm_config_userconfig: await npmConfig('userconfig'),
    npm_config_globalconfig: await npmConfig('globalconfig'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    ...(await embeddedServerEnv('-pack')),
  };
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const packed = await run('npm', ['pack', '--json', '--pack-destination', tarballs, ...publishedPackages().flatMap((name) => ['-w', name])], { cwd: root });
  tarballFiles = (JSON.parse(packed.stdout) as { filename: string }[]).map((p) => join(tarballs, p.filename));
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "private": true }\n');
  await run('npm', ['install', ...tarballFiles], { cwd: app, env, maxBuffer: 16 * 1024 * 1024 });
  kit.defer('embedded tunnel server', async () => {
    await prevuRun(['server', 'stop', '--purge'], work);
  });
}, 300_000);

describe('the packed packages, installed in an empty folder', () => {
  it('hold the whole of prevu: nothing links into the repository', () => {
    expect(lstatSync(prevu).isSymbolicLink()).toBe(true);
    expect(inRepo(realpathSync(prevu))).toBe(false);
    expect(linksInto(join(app, 'node_modules'))).toEqual([]);
  });

  it('npx @prevu/cli runs the installed CLI', async () => {
    const version = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')) as { version: string };
    // --no: never fetch it from the registry; only the installed one may answer
    const { stdout } = await run('npx', ['--no', '--', '@prevu/cli', '--version'], { cwd: app, env });
    expect(stdout).toMatch(new RegExp(`^@prevu/cli/${version.version.replace(/\./g, '\\.')} `));
    // the Node this suite runs on (CI runs this file under Node 20 and 24)
    expect(stdout.trim()).toMatch(new RegExp(`node-${process.version.replace(/\./g, '\\.')}$`));
  });

  it('npm install -g of the tarballs gives a `prevu` on PATH, as any npm CLI', async () => {
    const prefix = join(work, 'global');
    await run('npm', ['install', '-g', '--prefix', prefix, ...tarballFiles], { cwd: work, env, maxBuffer: 16 * 1024 * 1024 });
    const onPath = { ...env, PATH: `${join(prefix, 'bin')}${delimiter}${env.PATH}` };
    const { stdout } = await run('prevu', ['--version'], { cwd: work, env: onPath });
    expect(stdout).toMatch(/^@prevu\/cli\/\S+ /);
    expect(inRepo(realpathSync(join(prefix, 'bin', 'prevu')))).toBe(false);
    // a command that reads the (empty) config: the installed CLI loads its commands and core
    const ls = await run('prevu', ['profile', 'ls', '--json'], { cwd: work, env: onPath });
    expect(JSON.parse(ls.stdout)).toHaveProperty('profiles');
  }, 180_000);

  it('up on a copy of examples/hello: every URL answers 200 through the embedded tunnel server; the agent is built from the installed package', async () => {
    const hello = helloCopy(kit, project, 'main');
    kit.defer(`prevu down ${envId}`, () => prevuRun(['down', '--id', envId], hello));
    const up = await prevuRun(['up', '--json'], hello);
    expect(up.code, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { envId: string; urls: { service: string; url: string }[] };
    expect(result.envId).toBe(envId);
    expect(result.urls.map((u) => u.service).sort()).toEqual(['api', 'web']);
    for (const { url } of result.urls) expect((await httpGet(url)).status, url).toBe(200);
    const overlay = JSON.parse(readFileSync(join(env.XDG_CONFIG_HOME!, 'prevu/profiles/local/envs', envId, 'overlay.json'), 'utf8')) as { services: Record<string, { build: { context: string } }> };
    expect(realpathSync(overlay.services['prevu-agent']!.build.context)).toBe(realpathSync(join(app, 'node_modules/@prevu/compose-tunnel-agent')));

    const status = await prevuRun(['status'], hello);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`${envId} (prevu-${envId}): up, agent connected`);

    const down = await prevuRun(['down'], hello);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain(`removed ${envId}`);

    const stop = await prevuRun(['server', 'stop', '--purge'], work);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`stopped ${env.PREVU_EMBEDDED_NAME}`);
  }, 300_000);
});
