import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { ownerLabel, runLabel } from './run.js';

const execFileAsync = promisify(execFile);

/** Runs the docker CLI and returns stdout; the error carries stderr. */
export async function docker(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync('docker', args, { ...options, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** `docker run -d` with the run label; the container is removed by the test's cleanup. */
export async function runContainer(args: string[]): Promise<string> {
  return (await docker(['run', '-d', '--label', runLabel, '--label', ownerLabel, ...args])).trim();
}

/** What an engine (default: the host's) holds of a compose project: containers, networks and volumes by compose's label, images named after it. */
export async function composeProjectResources(project: string, dockerHost?: string): Promise<string[]> {
  const options = dockerHost ? { env: { ...process.env, DOCKER_HOST: dockerHost } } : {};
  const label = `label=com.docker.compose.project=${project}`;
  const found = await Promise.all([
    docker(['ps', '-aq', '--filter', label], options),
    docker(['network', 'ls', '-q', '--filter', label], options),
    docker(['volume', 'ls', '-q', '--filter', label], options),
    docker(['image', 'ls', '-q', '--filter', `reference=${project}-*`], options),
  ]);
  return found.flatMap(lines);
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Container ids, network and volume names carrying a label filter (default: this run's label). */
export function listLabeledSync(filter = runLabel): { containers: string[]; networks: string[]; volumes: string[] } {
  const run = (args: string[]) => lines(execFileSync('docker', args, { encoding: 'utf8' }));
  return {
    containers: run(['ps', '-aq', '--filter', `label=${filter}`]),
    networks: run(['network', 'ls', '-q', '--filter', `label=${filter}`]),
    volumes: run(['volume', 'ls', '-q', '--filter', `label=${filter}`]),
  };
}

/** Removes every container, network and volume with the filter label. Synchronous: safe in exit handlers. */
export function sweepSync(filter = runLabel): number {
  const found = listLabeledSync(filter);
  const quiet = { stdio: 'ignore' as const };
  if (found.containers.length) execFileSync('docker', ['rm', '-fv', ...found.containers], quiet);
  for (const n of found.networks) {
    try {
      execFileSync('docker', ['network', 'rm', n], quiet);
    } catch {
      // already gone with its project
    }
  }
  if (found.volumes.length) execFileSync('docker', ['volume', 'rm', '-f', ...found.volumes], quiet);
  return found.containers.length + found.networks.length + found.volumes.length;
}
