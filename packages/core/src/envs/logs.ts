// `prevu logs`: through the env's agent (no SSH), a service or all of them side by side with a
// prefix, `-f` until Ctrl-C; from the machine's compose when the agent does not answer.
import { stripVTControlCharacters } from 'node:util';
import { MAX_TAIL } from '../agent-protocol.js';
import { dockerExec } from '../docker-cli.js';
import { errors } from '../errors.js';
import { composeProjectName } from '../names.js';
import type { Session } from '../session.js';
import { agentFor, neutralDir, projectContainers, readState, withMachine } from './common.js';

export interface LogsOptions {
  service?: string;
  follow?: boolean;
  tail?: number;
  onOutput: (chunk: string) => void;
}

/**
 * The env's logs (one service, or all with a `service | ` prefix), through its agent so no SSH to
 * the machine is needed; from the machine's compose when the agent does not answer. With
 * `follow`, until the session's signal aborts.
 */
export async function logs(session: Session, envId: string, options: LogsOptions): Promise<void> {
  const client = agentFor(session, envId, await readState(session, envId));
  const running = await client.services().catch(() => undefined);
  if (!running) return machineLogs(session, envId, options);
  const names = [...new Set(running.map((r) => r.service))].sort();
  if (options.service && !names.includes(options.service)) {
    throw errors.unknownService(options.service, envId, `choose from: ${names.join(', ')}`);
  }
  const chosen = options.service ? [options.service] : names;
  const prefixed = chosen.length > 1;
  const streams = chosen.map(async (service) => {
    // Whole lines only, so that the lines of services streamed side by side never mix.
    let partial = '';
    const onText = (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (lines.length) options.onOutput(lines.map((l) => (prefixed ? `${service} | ${l}\n` : `${l}\n`)).join(''));
    };
    const status = await client
      .logs(service, { tail: options.tail ?? MAX_TAIL, follow: options.follow ?? false, onText, ...(session.signal ? { signal: session.signal } : {}) })
      .catch((error: Error) => {
        // Ctrl-C ends `logs -f` as it ends every command (exit 130)
        throw session.signal?.aborted ? error : errors.tunnelServerUnreachable(client.url, error.message);
      });
    if (partial) options.onOutput(prefixed ? `${service} | ${partial}\n` : `${partial}\n`);
    if (status === 404) throw errors.unknownService(service, envId, `check \`prevu status --id ${envId}\``);
    // the agent went away between the two calls (reconnecting, restarted): not the user's doing
    if (status !== 200) throw errors.tunnelServerUnreachable(client.url, `the agent answered /logs/${service} with HTTP ${status}`);
  });
  await Promise.all(streams);
}

/** `docker compose logs` of the env on its machine (needs the driver: SSH for remote machines). */
async function machineLogs(session: Session, envId: string, options: LogsOptions): Promise<void> {
  const project = composeProjectName(envId);
  await withMachine(session, envId, async (env) => {
    const containers = await projectContainers(env, project);
    if (!containers.length) throw errors.unknownEnv(envId);
    if (options.service && !containers.some((c) => c.service === options.service)) {
      throw errors.unknownService(options.service, envId, `choose from: ${[...new Set(containers.map((c) => c.service))].join(', ')}`);
    }
    const args = [
      'compose', '--ansi', 'never', '-p', project, 'logs', '--no-color',
      ...(options.follow ? ['-f'] : []),
      ...(options.tail !== undefined ? ['--tail', String(options.tail)] : []),
      // the same shape as through the agent: a prefix only when several services mix
      ...(options.service ? ['--no-log-prefix', options.service] : []),
    ];
    // compose clears each log line with an ANSI sequence even without a terminal
    const result = await dockerExec(args, { env, cwd: neutralDir(), onStdout: (chunk) => options.onOutput(stripVTControlCharacters(chunk)), ...(session.signal ? { signal: session.signal } : {}) });
    if (result.code !== 0) throw errors.composeLogsFailed(result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`);
  });
}
