// Runs the docker CLI (and `docker compose`) as a child process. child_process rather than the
// `docker-compose` npm wrapper: prevu needs the child's environment (DOCKER_HOST of a remote
// machine), an AbortSignal for Ctrl-C, and stderr lines as they come for progress; the wrapper
// adds nothing over that. Failures become PrevuErrors naming the cause.
import { spawn } from 'node:child_process';
import { errors } from './errors.js';

export interface DockerRunOptions {
  /** Extra environment (e.g. the machine's DOCKER_HOST). */
  env?: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
  /** Called with each stderr line (compose writes its progress there). */
  onStderrLine?: (line: string) => void;
  /** Called with each stdout chunk as it arrives (for `logs -f`). */
  onStdout?: (chunk: string) => void;
  input?: string;
}

export interface DockerResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(what = 'interrupted') {
    super(what);
  }
}

function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

/** Resolves with the result whatever the exit code; rejects only when docker cannot be started. */
export function dockerExec(args: string[], options: DockerRunOptions = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new InterruptedError());
      return;
    }
    const child = spawn('docker', args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (!options.onStderrLine) return;
      partial += chunk;
      const lines = partial.split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) options.onStderrLine(line);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    // SIGINT first, like a terminal would, so compose stops what it is doing cleanly.
    const onAbort = () => child.kill('SIGINT');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(error.code === 'ENOENT' ? errors.dockerNotRunning('the docker CLI is not installed') : error);
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) reject(new InterruptedError());
      else resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) });
    });
  });
}

const DAEMON_DOWN = /Cannot connect to the Docker daemon|error during connect|Is the docker daemon running|connect: no such file or directory|connection refused/i;

/** True when stderr says the engine itself is not reachable (as opposed to a command failing). */
export function isDaemonDown(stderr: string): boolean {
  return DAEMON_DOWN.test(stderr);
}

/** Runs docker and returns stdout; a non-zero exit becomes dockerCommandFailed (or dockerNotRunning): one line, never "unexpected error". */
export async function docker(args: string[], options: DockerRunOptions = {}): Promise<string> {
  const result = await dockerExec(args, options);
  if (result.code !== 0) {
    if (isDaemonDown(result.stderr)) throw errors.dockerNotRunning(lastLines(result.stderr, 1));
    throw errors.dockerCommandFailed(args.join(' '), `exit ${result.code}: ${lastLines(result.stderr || result.stdout)}`);
  }
  return result.stdout;
}

/**
 * The ID of the network `name` on the engine at `env`, '' when it has none. Network IDs are random
 * per engine, so one ID seen through two endpoints means one engine; the engine's own ID does not
 * (two daemons on one host share it, from /etc/docker/key.json).
 */
export async function networkId(name: string, env: Record<string, string> = {}): Promise<string> {
  const inspect = await dockerExec(['network', 'inspect', '--format', '{{.Id}}', name], { env });
  return inspect.code === 0 ? inspect.stdout.trim() : '';
}

/** True when the engine at `env` has the image `ref` (a tag or an ID). */
export async function imageExists(ref: string, env: Record<string, string> = {}): Promise<boolean> {
  return (await dockerExec(['image', 'inspect', '--format', '{{.Id}}', ref], { env })).code === 0;
}

/** The engine's version; dockerNotRunning when it does not answer. */
export async function engineVersion(env: Record<string, string> = {}): Promise<string> {
  const info = await dockerExec(['version', '--format', '{{.Server.Version}}'], { env });
  if (info.code !== 0) throw errors.dockerNotRunning(lastLines(info.stderr, 1) || `exit ${info.code}`);
  return info.stdout.trim();
}

/** Checks that the engine answers and compose v2 is there; throws the matching PrevuError. */
export async function checkDocker(env: Record<string, string> = {}): Promise<{ engine: string; compose: string }> {
  // side by side: each is a CLI start (compose's own ~0.3 s of CPU)
  const [engine, compose] = await Promise.all([engineVersion(env), dockerExec(['compose', 'version', '--short'], { env })]);
  if (compose.code !== 0) throw errors.composeMissing();
  return { engine, compose: compose.stdout.trim() };
}
