// `docker compose` as `prevu up` runs it on the machine: the arguments that select the user's
// files, one failure line naming the step and the env, the progress lines read as events, and
// what the engine knows of the images and the services still starting.
import { dockerExec } from './docker-cli.js';
import { errors } from './errors.js';
import type { ComposeModel, LoadedProject } from './compose.js';
import type { PrevuEventType } from './events.js';
import type { ImagePorts } from './overlay.js';

export interface ComposeRun {
  envId: string;
  project: string;
  /** `-p <project> -f ...`: the files that make the env (the user's and prevu's overlay). */
  args: string[];
  cwd: string;
  /** Environment of the compose CLI: the user's, the URL variables, DOCKER_HOST of the machine. */
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** `-f` of every file compose would have found: `-f overlay` turns its own default lookup off. */
export function composeFiles(loaded: LoadedProject): string[] {
  return loaded.args.includes('-f') ? loaded.args : [...loaded.files.flatMap((f) => ['-f', f]), ...loaded.args];
}

export async function runCompose(run: ComposeRun, args: string[], report: (line: string) => void): Promise<void> {
  const result = await dockerExec(['compose', '--progress', 'plain', ...run.args, ...args], {
    cwd: run.cwd,
    env: run.env,
    ...(run.signal ? { signal: run.signal } : {}),
    onStderrLine: report,
  });
  if (result.code !== 0) {
    const lines = result.stderr.trim().split('\n').filter(Boolean);
    const detail = lines.filter((l) => /error|failed|unhealthy|exited/i.test(l)).pop() ?? lines.pop() ?? `exit ${result.code}`;
    const down = `\`prevu down --id ${run.envId}\` removes the env`;
    // a failed build made no container: `prevu logs` would have nothing to show
    const fix = args[0] === 'build' ? `fix the build (\`prevu up --debug\` shows its output); ${down}` : `see \`prevu logs --id ${run.envId}\`; ${down}`;
    throw errors.composeFailed(args[0]!, run.project, detail.trim(), fix);
  }
}

/**
 * A line of compose's plain progress as an event of one of the project's services, if it is one:
 * ` web Pulled` (service names) or ` Container <project>-web-1  Started` (container names).
 */
export function composeEvent(line: string, project: string): { service: string; type: PrevuEventType; container?: string } | undefined {
  const pulled = /^\s*(\S+)\s+Pulled\s*$/.exec(line);
  if (pulled) return { service: pulled[1]!, type: 'image_pulled' };
  const m = /Container (\S+)\s+(Created|Recreated|Started|Running|Healthy)\b/.exec(line);
  if (!m || !m[1]!.startsWith(`${project}-`)) return undefined;
  const service = m[1]!.slice(project.length + 1).replace(/-\d+$/, '');
  const type = m[2] === 'Healthy' ? 'healthy' : m[2] === 'Started' || m[2] === 'Running' ? 'starting' : 'container_allocated';
  return { service, type, container: m[1]! };
}

/** Services of the project whose healthcheck has not passed or failed yet. */
export async function stillStarting(project: string, env: Record<string, string>): Promise<string[]> {
  const r = await dockerExec(['ps', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'health=starting', '--format', '{{.Label "com.docker.compose.service"}}'], { env });
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean).sort() : [];
}

/** EXPOSE ports of the services' images on the machine (built ones are `<project>-<service>`). */
export async function imagePorts(model: ComposeModel, project: string, env: Record<string, string>): Promise<ImagePorts> {
  const entries = await Promise.all(
    Object.entries(model.services).map(async ([name, service]) => {
      const image = service.image ?? `${project}-${name}`;
      // an image compose has yet to pull is not known here; the agent still sees it later
      const r = await dockerExec(['image', 'inspect', '--format', '{{json .Config.ExposedPorts}}', image], { env });
      const exposed = r.code === 0 ? (JSON.parse(r.stdout.trim() || 'null') as Record<string, unknown> | null) : null;
      const ports = Object.keys(exposed ?? {})
        .map((k) => /^(\d+)(?:\/tcp)?$/.exec(k)?.[1])
        .filter((p): p is string => p !== undefined)
        .map(Number);
      return [name, ports] as const;
    }),
  );
  return Object.fromEntries(entries);
}
