// `prevu ls`: the profile's envs, from their state files, the machines the driver made, and on
// this engine the compose projects labeled with the profile and its account.
import { docker } from '../docker-cli.js';
import type { MachineRecord } from '../drivers/driver.js';
import { EnvStateStore, type EnvState } from '../env-state.js';
import { AGENT_SERVICE, composeProjectName } from '../names.js';
import type { Session } from '../session.js';
import { driverOf, projectContainers } from './common.js';

export interface EnvListing {
  envId: string;
  profile: string;
  driver: string;
  project: string;
  status: string;
  services: string;
  dir?: string;
  updatedAt?: string;
  /** The env's machine as its driver lists it (lightsail: the instance), when the driver made one. */
  machine?: { state: string; host?: string; createdAt?: string };
}

/** Envs of the profile: state files, machines the driver made, and local compose projects labeled with the profile. */
export async function list(session: Session): Promise<EnvListing[]> {
  const states = new EnvStateStore(session.store, session.profile.name);
  const found = new Map<string, EnvState | undefined>((await states.list()).map((s) => [s.envId, s]));
  // What the driver knows of each env's machine (a cloud instance's state and age).
  const machines = new Map<string, MachineRecord>();
  const driver = await driverOf(session);
  const thisEngine = driver.thisEngine;
  try {
    for (const m of await driver.list()) {
      machines.set(m.envId, m);
      if (!found.has(m.envId)) found.set(m.envId, undefined);
    }
  } finally {
    await driver.close().catch(() => undefined);
  }
  if (thisEngine) {
    // profile names repeat across machines' users: the account (the key) tells envs apart
    const out = await docker(['ps', '-a', '--filter', `label=dev.prevu.profile=${session.profile.name}`, '--filter', `label=dev.prevu.account=${session.key.accountId}`, '--format', '{{.Label "dev.prevu.env-id"}}']);
    for (const envId of out.split('\n').filter(Boolean)) if (!found.has(envId)) found.set(envId, undefined);
  }
  const rows: EnvListing[] = [];
  for (const [envId, state] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
    const project = composeProjectName(envId);
    let services = '';
    if (thisEngine) {
      const containers = (await projectContainers({}, project)).filter((c) => c.service !== AGENT_SERVICE);
      services = `${containers.filter((c) => c.state === 'running').length}/${containers.length} running`;
    }
    rows.push({
      envId,
      profile: session.profile.name,
      driver: session.profile.driver,
      project,
      status: state?.status ?? 'unknown',
      services,
      ...(state ? { dir: state.source.dir, updatedAt: state.updatedAt } : {}),
      ...machineOf(machines.get(envId)),
    });
  }
  return rows;
}

function machineOf(m: MachineRecord | undefined): Pick<EnvListing, 'machine'> {
  if (!m) return {};
  return { machine: { state: m.state, ...(m.host ? { host: m.host } : {}), ...(m.createdAt ? { createdAt: m.createdAt.toISOString() } : {}) } };
}
