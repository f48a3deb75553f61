// `prevu down`: compose down on the env's machine, the machine itself when its driver made it,
// the agent's key revoked on the tunnel server, and the env's state.
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
}

/** Removes the env: compose down on its machine, the machine when the driver made it, its state. */
export async function down(session: Session, envId: string, options: { volumes?: boolean } = {}): Promise<DownResult> {
  const states = new EnvStateStore(session.store, session.profile.name);
  const state = await states.read(envId);
  const project = composeProjectName(envId);
  await withMachine(session, envId, async (env, machine, driver) => {
    const found = machine ? (await projectContainers(env, project)).length > 0 : false;
    if (!found && !state) throw errors.unknownEnv(envId);
    if (found || machine) {
      await docker(['compose', '-p', project, 'down', '--remove-orphans', '--timeout', '5', ...(options.volumes ? ['--volumes'] : [])], { env, cwd: neutralDir() });
    }
    await driver.remove(envId);
  });
  await revokeAgentKey(session, envId);
  await states.remove(envId);
  session.onEvent?.(makeEvent('stopped', envId, undefined, { project }));
  return { envId, project, removed: true };
}
