// `prevu ls`: the profile's envs, from their state files, the machines the driver made, and on
// this engine the compose projects labeled with the profile and its account; their lifecycle
// from the state files and, where it answers in time, each env's agent (GET /lifecycle).
import type { LifecycleRow, LifecycleState } from '../agent-protocol.js';
import { docker } from '../docker-cli.js';
import type { MachineRecord } from '../drivers/driver.js';
import { EnvStateStore, type EnvState } from '../env-state.js';
import { AGENT_SERVICE, composeProjectName } from '../names.js';
import { pool } from '../pool.js';
import type { Session } from '../session.js';
import { agentFor, driverOf, projectContainers } from './common.js';

/** How long `ls` waits for the agents (all of them), and how many it asks at once. */
const AGENT_TIMEOUT_MS = 1500;
const AGENT_PARALLEL = 8;

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
  /** When the env was made (its state file, else its machine); null: unknown. */
  createdAt: string | null;
  ageSeconds: number | null;
  /** When the TTL ends (ISO 8601); null: no TTL. */
  expiresAt: string | null;
  /** Seconds until the TTL ends, 0 once it has; null: no TTL. */
  ttlLeftSeconds: number | null;
  pinned: boolean;
  /** Idle seconds before the services sleep; 0: never. */
  sleepAfterSeconds: number;
  /** Where the agent says the env is in its life; null: the agent did not answer. */
  lifecycleState: LifecycleState | null;
  /** The services are stopped for being idle; null: unknown (the agent did not answer). */
  asleep: boolean | null;
  /** The last request through the tunnel server (ISO 8601); null: none, or unknown. */
  lastRequestAt: string | null;
}

/** Envs of the profile: state files, machines the driver made, and local compose projects labeled with the profile; `agents: false` skips asking the agents. */
export async function list(session: Session, options: { agents?: boolean } = {}): Promise<EnvListing[]> {
  const states = new EnvStateStore(session.store, session.profile.name);
  const recorded = await states.list();
  const found = new Map<string, EnvState | undefined>(recorded.map((s) => [s.envId, s]));
  // Asked now, answered while the driver and Docker are: only envs with a state file have a known agent URL.
  const asked = options.agents === false ? Promise.resolve(new Map<string, LifecycleRow>()) : agentLifecycles(session, recorded);
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
  const agents = await asked;
  const now = Date.now();
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
      ...lifecycleOf(state, machines.get(envId), agents.get(envId), now),
    });
  }
  return rows;
}

/** Each env's GET /lifecycle, in parallel, all within one deadline however many envs; an env whose agent does not answer in time is left out. */
export async function agentLifecycles(session: Session, targets: Pick<EnvState, 'envId' | 'accountId' | 'baseUrl'>[]): Promise<Map<string, LifecycleRow>> {
  const rows = new Map<string, LifecycleRow>();
  const deadline = AbortSignal.timeout(AGENT_TIMEOUT_MS);
  await pool(targets, AGENT_PARALLEL, async (target) => {
    if (deadline.aborted) return;
    const row = await agentFor(session, target.envId, target)
      .lifecycle({ timeoutMs: AGENT_TIMEOUT_MS, signal: deadline })
      .catch(() => undefined);
    if (row) rows.set(target.envId, row);
  });
  return rows;
}

type Lifecycle = Pick<EnvListing, 'createdAt' | 'ageSeconds' | 'expiresAt' | 'ttlLeftSeconds' | 'pinned' | 'sleepAfterSeconds' | 'lifecycleState' | 'asleep' | 'lastRequestAt'>;

/** The agent's row where it answered (pin/unpin change it there first), else what the state file recorded. */
function lifecycleOf(state: EnvState | undefined, machine: MachineRecord | undefined, agent: LifecycleRow | undefined, now: number): Lifecycle {
  const createdAt = state?.createdAt ?? machine?.createdAt?.toISOString() ?? null;
  const recorded = agent ?? state?.lifecycle;
  const expiresAt = recorded?.expiresAt ?? null;
  return {
    createdAt,
    ageSeconds: createdAt ? Math.max(0, Math.round((now - Date.parse(createdAt)) / 1000)) : null,
    expiresAt,
    ttlLeftSeconds: expiresAt ? Math.max(0, Math.round((Date.parse(expiresAt) - now) / 1000)) : null,
    pinned: recorded?.pinned ?? false,
    sleepAfterSeconds: recorded?.sleepAfterSeconds ?? 0,
    lifecycleState: agent?.state ?? null,
    asleep: agent ? agent.state === 'asleep' : null,
    lastRequestAt: agent?.lastRequestAt ?? null,
  };
}

function machineOf(m: MachineRecord | undefined): Pick<EnvListing, 'machine'> {
  if (!m) return {};
  return { machine: { state: m.state, ...(m.host ? { host: m.host } : {}), ...(m.createdAt ? { createdAt: m.createdAt.toISOString() } : {}) } };
}
