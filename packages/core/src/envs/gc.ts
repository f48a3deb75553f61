// `prevu gc`: removes the profile's expired envs (TTL passed and not pinned, as the env state
// records it, or as the env's agent reports it) with `down`, machines the driver made included.
// Named volumes stay unless `volumes`. An env without a state file here (a fresh CI runner) is
// asked through its agent, the tunnel server's base URL coming from `hello`.
import { isPrevuError } from '../errors.js';
import { connectTunnelServer, type Session } from '../session.js';
import { down } from './down.js';
import { agentLifecycles, list, type EnvListing } from './list.js';

export interface GcRow {
  envId: string;
  /** When its TTL ended; null when only its agent said it expired. */
  expiresAt: string | null;
  /** false with dryRun, or when removing it failed (`error`). */
  removed: boolean;
  keptVolumes: string[];
  error?: string;
}

/** The profile's expired envs, removed (or only listed, with dryRun). One env that cannot be removed does not stop the others. */
export async function gc(session: Session, options: { volumes?: boolean; dryRun?: boolean } = {}): Promise<GcRow[]> {
  const envs = await withRemoteAgents(session, await list(session));
  const now = Date.now();
  const expired = envs.filter((e) => !e.pinned && (e.lifecycleState === 'expired' || (e.expiresAt !== null && Date.parse(e.expiresAt) <= now)));
  const rows: GcRow[] = [];
  for (const env of expired) {
    const row: GcRow = { envId: env.envId, expiresAt: env.expiresAt, removed: false, keptVolumes: [] };
    if (!options.dryRun) {
      try {
        row.keptVolumes = (await down(session, env.envId, { volumes: options.volumes ?? false })).keptVolumes;
        row.removed = true;
      } catch (error) {
        if (!isPrevuError(error)) throw error;
        row.error = error.line;
      }
    }
    rows.push(row);
  }
  return rows;
}

/** Envs listed without a state file (their machines only) get their agent's lifecycle too, through a remote tunnel server. */
async function withRemoteAgents(session: Session, envs: EnvListing[]): Promise<EnvListing[]> {
  const unknown = envs.filter((e) => e.dir === undefined && e.lifecycleState === null);
  // An embedded server that is not running is not started for this: it has no agent to ask.
  if (!unknown.length || session.profile.tunnelServer.type !== 'remote') return envs;
  const { hello, client } = await connectTunnelServer(session, unknown[0]!.envId);
  client.close();
  const rows = await agentLifecycles(session, unknown.map((e) => ({ envId: e.envId, accountId: session.key.accountId, baseUrl: hello.baseUrl })));
  return envs.map((e) => {
    const row = rows.get(e.envId);
    return row ? { ...e, expiresAt: row.expiresAt, pinned: row.pinned, lifecycleState: row.state } : e;
  });
}
