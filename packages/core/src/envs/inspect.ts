// `prevu urls` and `prevu status`: the env as its agent sees it (URLs, services, health, why a
// service is not ready, recent events), from the machine's compose only when the agent is silent.
import { errors } from '../errors.js';
import type { PrevuEvent } from '../events.js';
import type { Session } from '../session.js';
import { urlRows, type UrlRow } from '../url-rows.js';
import { agentFor, projectContainers, readState, withMachine, type ServiceRow } from './common.js';

/** The env's URL table, from its agent. */
export async function urls(session: Session, envId: string): Promise<UrlRow[]> {
  const state = await readState(session, envId);
  const tunnels = await agentFor(session, envId, state).tunnels();
  if (!tunnels) throw errors.agentNotAnswering(envId);
  return urlRows(tunnels, state.services);
}

export interface StatusResult {
  envId: string;
  project: string;
  status: string;
  /** The last `up`'s one line, when it failed. */
  failure?: { code: string; line: string };
  services: ServiceRow[];
  urls: UrlRow[];
  agent: string;
  /** The agent's last events (unhealthy, crash_loop ... with their details). */
  events: PrevuEvent[];
}

export async function status(session: Session, envId: string): Promise<StatusResult> {
  const state = await readState(session, envId);
  let services: ServiceRow[] | undefined;
  let rows: UrlRow[] = [];
  let events: PrevuEvent[] = [];
  let agent = 'connected';
  try {
    const client = agentFor(session, envId, state);
    const tunnels = await client.tunnels();
    if (tunnels) {
      rows = urlRows(tunnels, state.services);
      services = await client.services();
      events = await client.recentEvents();
    } else agent = 'not connected';
  } catch (error) {
    agent = `unreachable (${(error as Error).message})`;
  }
  // The agent answers without SSH to the machine; only when it does not is the machine asked.
  services ??= await withMachine(session, envId, (env) => projectContainers(env, state.project));
  const sorted = services.map(({ service, state, health, cause, fix }) => ({ service, state, health, ...(cause ? { cause, fix: fix ?? '' } : {}) })).sort((a, b) => a.service.localeCompare(b.service));
  return { envId, project: state.project, status: state.status, ...(state.failure ? { failure: state.failure } : {}), services: sorted, urls: rows, agent, events };
}
