// Runs the real CLI (`node packages/cli/bin/run.js`) as a process with its own HOME and
// XDG_CONFIG_HOME, so tests never touch a user's profiles.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { docker, freePorts, runId, type Kit } from '@prevu/test-kit';

export const CLI = resolve(import.meta.dirname, '..', 'bin', 'run.js');
export const HELLO = resolve(import.meta.dirname, '..', '..', '..', 'examples', 'hello');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliHome {
  env: Record<string, string>;
  run(args: string[], options?: { cwd?: string; env?: Record<string, string> }): Promise<CliResult>;
}

/** A temporary home for the CLI, removed at cleanup. */
export function cliHome(kit: Kit, extraEnv: Record<string, string> = {}): CliHome {
  const home = mkdtempSync(join(tmpdir(), 'prevu-home-'));
  kit.defer(`cli home ${home}`, () => rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...extraEnv };
  return {
    env,
    run: (args, options = {}) =>
      new Promise((done) => {
        execFile('node', [CLI, ...args], { cwd: options.cwd ?? home, env: { ...process.env, ...env, ...options.env }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          done({ code, stdout, stderr });
        });
      }),
  };
}

/** Settings of an embedded tunnel server of this test process: its own container, network and free ports. */
export async function embeddedServerEnv(suffix = ''): Promise<Record<string, string>> {
  const [http, ssh, management] = await freePorts(3);
  const name = `prevu-ts-${runId}-${process.pid}${suffix}`;
  return {
    PREVU_EMBEDDED_NAME: name,
    PREVU_EMBEDDED_NETWORK: `${name}-net`,
    PREVU_EMBEDDED_HTTP_PORT: String(http),
    PREVU_EMBEDDED_SSH_PORT: String(ssh),
    PREVU_EMBEDDED_MANAGEMENT_PORT: String(management),
  };
}

/**
 * A CLI home whose embedded tunnel server has its own container, network and free ports, so test
 * files never clash with each other or with a user's server. The server is stopped at cleanup,
 * after every env's `down` (deferred later, so run earlier).
 */
export async function embeddedCliHome(kit: Kit, suffix = ''): Promise<CliHome> {
  const cli = cliHome(kit, await embeddedServerEnv(suffix));
  kit.defer('embedded tunnel server', async () => {
    const r = await cli.run(['server', 'stop', '--purge']);
    if (r.code !== 0) throw new Error(`prevu server stop: ${r.stderr}`);
  });
  return cli;
}

/** A copy of examples/hello named `project` (the compose project name), in a git repository on `branch`. */
export function helloCopy(kit: Kit, project: string, branch: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-hello-'));
  kit.defer(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  cpSync(HELLO, join(dir, project), { recursive: true });
  execFileSync('git', ['init', '-q', '-b', branch], { cwd: join(dir, project) });
  return join(dir, project);
}

/** The lines of stderr that are not progress (`› step`): what an error looks like to the user. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() && !l.startsWith('›'));
}

/** A temporary directory with these files (relative path -> content), removed at cleanup. */
export function projectDir(kit: Kit, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-project-'));
  kit.defer(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Containers and networks compose made for a project, by name: what `down` must leave none of. */
export async function projectLeftovers(project: string): Promise<string[]> {
  const filter = ['--filter', `label=com.docker.compose.project=${project}`];
  const [containers, networks] = await Promise.all([docker(['ps', '-a', ...filter, '--format', '{{.Names}}']), docker(['network', 'ls', ...filter, '--format', '{{.Name}}'])]);
  return `${containers}\n${networks}`.split('\n').filter(Boolean);
}
