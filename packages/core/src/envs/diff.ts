// `prevu diff`: where two envs differ, or an env and the compose files as they are now, from the
// envs' agents (no SSH) and records: prevu's own settings, the services, each service's image and
// its environment (keys, and whether values differ: values are hashed with one random salt per
// run, so no value leaves a machine and no hash can be matched against another run's).
import { randomBytes } from 'node:crypto';
import { hashValue, type ServiceConfig } from '../agent-protocol.js';
import { loadComposeProject, type ComposeSource } from '../compose.js';
import { isDiscoveryVariable } from '../env-scan.js';
import type { EnvState } from '../env-state.js';
import { errors } from '../errors.js';
import { AGENT_SERVICE } from '../names.js';
import type { Session } from '../session.js';
import { agentFor, readState } from './common.js';

export interface DiffRow {
  /** What differs, for people: `setting driver`, `service web`, `web image`, `web env API_KEY`. */
  what: string;
  a: string;
  b: string;
}

const ABSENT = '(none)';

/** One side of a comparison: an env through its agent, or the compose files as they are now. */
interface Side {
  configs: Map<string, ServiceConfig>;
  state?: EnvState;
  /** The files declare only some keys (the rest of a container's environment is its image's). */
  declared?: Set<string>;
}

async function envSide(session: Session, envId: string, salt: string): Promise<Side> {
  const state = await readState(session, envId);
  const config = await agentFor(session, state.envId, state).config(salt);
  if (!config) throw errors.agentUnreachable(state.envId, 'not connected');
  return { configs: new Map(config.map((c) => [c.service, c])), state };
}

export async function diffEnvs(session: Session, a: string, b: string): Promise<DiffRow[]> {
  const salt = randomBytes(16).toString('hex');
  return compare(...(await Promise.all([envSide(session, a, salt), envSide(session, b, salt)])));
}

/**
 * An env against the compose files as they are now (resolved by compose, under the env's project
 * name): the services, their images, and the environment keys the files declare.
 */
export async function diffWithFiles(session: Session, envId: string, source: ComposeSource): Promise<DiffRow[]> {
  const salt = randomBytes(16).toString('hex');
  const env = await envSide(session, envId, salt);
  const { model } = await loadComposeProject(source, env.state!.project);
  const configs = new Map<string, ServiceConfig>();
  const declared = new Set<string>();
  for (const [service, definition] of Object.entries(model.services)) {
    const values = Object.entries(definition.environment ?? {}).filter((entry): entry is [string, string] => entry[1] !== null);
    for (const [key] of values) declared.add(key);
    configs.set(service, { service, image: definition.image ?? `${env.state!.project}-${service}`, imageId: '', env: Object.fromEntries(values.map(([key, value]) => [key, hashValue(salt, value)])) });
  }
  return compare(env, { configs, declared });
}

function compare(a: Side, b: Side): DiffRow[] {
  const rows: DiffRow[] = [];
  // shown values may be alike where the real ones differ (hashed values both show "differs")
  const row = (what: string, x: string | undefined, y: string | undefined, differs = x !== y) => {
    if (differs) rows.push({ what, a: x ?? ABSENT, b: y ?? ABSENT });
  };
  if (a.state && b.state) {
    for (const key of ['profile', 'driver', 'baseUrl'] as const) row(`setting ${key}`, a.state[key], b.state[key]);
    row('setting services', a.state.services?.join(',') ?? 'all', b.state.services?.join(',') ?? 'all');
  }
  for (const service of [...new Set([...a.configs.keys(), ...b.configs.keys()])].filter((s) => s !== AGENT_SERVICE).sort()) {
    const [x, y] = [a.configs.get(service), b.configs.get(service)];
    if (!x || !y) {
      row(`service ${service}`, x ? 'present' : undefined, y ? 'present' : undefined);
      continue;
    }
    row(`${service} image`, x.image, y.image);
    // an image id is known only of what runs
    if (x.image === y.image && x.imageId && y.imageId) row(`${service} image id`, short(x.imageId), short(y.imageId));
    diffEnv(service, x, y, b.declared ?? a.declared, row);
  }
  return rows;
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Keys in one side only, and keys whose values differ (shown as "differs", never the values). */
function diffEnv(service: string, x: ServiceConfig, y: ServiceConfig, declared: Set<string> | undefined, row: (what: string, a: string | undefined, b: string | undefined, differs: boolean) => void): void {
  // PREVU_ENV_ID and PREVU_URL_* name each env's own URLs: they always differ, and say nothing
  const keys = [...new Set([...Object.keys(x.env), ...Object.keys(y.env)])].filter((k) => !isDiscoveryVariable(k) && (!declared || declared.has(k)));
  for (const key of keys.sort()) {
    const [vx, vy] = [x.env[key], y.env[key]];
    if (vx === vy) continue;
    const both = vx !== undefined && vy !== undefined;
    row(`${service} env ${key}`, vx === undefined ? undefined : both ? 'differs' : 'set', vy === undefined ? undefined : both ? 'differs' : 'set', true);
  }
}
