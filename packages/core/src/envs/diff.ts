// `prevu diff <envA> <envB>`: where two envs differ, from their agents (no SSH) and their records:
// prevu's own settings, the services, each service's image and its environment (keys, and whether
// values differ: both agents hash values with one random salt, so no value leaves a machine and
// no hash can be matched against another run's).
import { randomBytes } from 'node:crypto';
import type { ServiceConfig } from '../agent-protocol.js';
import { isDiscoveryVariable } from '../env-scan.js';
import { errors } from '../errors.js';
import type { Session } from '../session.js';
import { agentFor, readState } from './common.js';

export interface DiffRow {
  /** What differs, for people: `setting driver`, `service web`, `web image`, `web env API_KEY`. */
  what: string;
  a: string;
  b: string;
}

const ABSENT = '(none)';

export async function diffEnvs(session: Session, a: string, b: string): Promise<DiffRow[]> {
  const states = [readState(session, a), readState(session, b)] as const;
  const salt = randomBytes(16).toString('hex');
  const [ca, cb] = await Promise.all(
    states.map(async (state) => {
      const config = await agentFor(session, state.envId, state).config(salt);
      if (!config) throw errors.agentUnreachable(state.envId, 'not connected');
      return new Map(config.map((c) => [c.service, c]));
    }),
  );
  const rows: DiffRow[] = [];
  // shown values may be alike where the real ones differ (hashed values both show "differs")
  const row = (what: string, x: string | undefined, y: string | undefined, differs = x !== y) => {
    if (differs) rows.push({ what, a: x ?? ABSENT, b: y ?? ABSENT });
  };
  for (const key of ['profile', 'driver', 'baseUrl'] as const) row(`setting ${key}`, states[0][key], states[1][key]);
  row('setting services', states[0].services?.join(',') ?? 'all', states[1].services?.join(',') ?? 'all');
  for (const service of [...new Set([...ca!.keys(), ...cb!.keys()])].sort()) {
    const [x, y] = [ca!.get(service), cb!.get(service)];
    if (!x || !y) {
      row(`service ${service}`, x ? 'present' : undefined, y ? 'present' : undefined);
      continue;
    }
    row(`${service} image`, x.image, y.image);
    if (x.image === y.image) row(`${service} image id`, short(x.imageId), short(y.imageId));
    diffEnv(service, x, y, row);
  }
  return rows;
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Keys in one env only, and keys whose values differ (shown as "differs", never the values). */
function diffEnv(service: string, x: ServiceConfig, y: ServiceConfig, row: (what: string, a: string | undefined, b: string | undefined, differs: boolean) => void): void {
  // PREVU_ENV_ID and PREVU_URL_* name each env's own URLs: they always differ, and say nothing
  for (const key of [...new Set([...Object.keys(x.env), ...Object.keys(y.env)])].filter((k) => !isDiscoveryVariable(k)).sort()) {
    const [vx, vy] = [x.env[key], y.env[key]];
    if (vx === vy) continue;
    const both = vx !== undefined && vy !== undefined;
    row(`${service} env ${key}`, vx === undefined ? undefined : both ? 'differs' : 'set', vy === undefined ? undefined : both ? 'differs' : 'set', true);
  }
}
