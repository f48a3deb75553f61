// `prevu down`: compose down on the env's machine, the machine itself when its driver made it,
// the agent's key revoked on the tunnel server, and the env's state. Named volumes stay (data is
// never lost silently) unless `volumes`; the result names the ones kept.
import { docker } from '../docker-cli.js';
import { EnvStateStore } from '../env-state.js';
import { errors } from '../errors.js';
import { makeEvent } from '../events.js';
import { composeProjectName } from '../names.js';
import { revokeAgentKey, type Session } from '../session.js';
import { neutralDir, projectContainers, withMachine } from './common.js';

export interface DownResult {
  envId: string;
  project: string;
  removed: boolean;
  /** The project's named volumes left on the machine (without `volumes`; none when the machine itself was deleted). */
  keptVolumes: string[];
}

/** Removes the env: compose down on its machine, the machine when the driver made it, its state. */
export async function down(session: Session, envId: string, options: { volumes?: boolean } = {}): Promise<DownResult> {
  const states = new EnvStateStore(session.store, session.profile.name);
  const state = await states.read(envId);
  const project = composeProjectName(envId);
  const removed = withMachine(session, envId, async (env, machine, driver) => {
    // side by side, each a docker CLI start: `compose down` without --volumes leaves the named
    // volumes, so they are the same listed before it as after
    const [containers, volumes] = await Promise.all([
      machine ? projectContainers(env, project) : [],
      machine && !options.volumes ? docker(['volume', 'ls', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Name}}'], { env }) : '',
    ]);
    if (!containers.length && !state) throw errors.unknownEnv(envId);
    if (machine) await docker(['compose', '-p', project, 'down', '--remove-orphans', '--timeout', '5', ...(options.volumes ? ['--volumes'] : [])], { env, cwd: neutralDir() });
    // A machine the driver deletes takes its volumes with it.
    return (await driver.remove(envId)) ? [] : volumes.split('\n').filter(Boolean);
  });
  // connects to the tunnel server while compose removes the containers; revokes once they are gone
  const revoked = revokeAgentKey(session, envId, removed);
  const keptVolumes = await removed;
  await revoked;
  await states.remove(envId);
  session.onEvent?.(makeEvent('stopped', envId, undefined, { project }));
  return { envId, project, removed: true, keptVolumes };
}

/** The one line `down`, `gc` and `up --replace-oldest` print for volumes they kept. */
export function keptVolumesLine({ envId, keptVolumes }: Pick<DownResult, 'envId' | 'keptVolumes'>): string | undefined {
  if (!keptVolumes.length) return undefined;
  return `kept the named volume${keptVolumes.length > 1 ? 's' : ''} ${keptVolumes.join(', ')} of ${envId} (their data stays): add --volumes to remove them with the env`;
}
