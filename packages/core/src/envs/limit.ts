// The profile's `lifecycle.maxEnvs`: `prevu up` of a new env beyond it is refused in one line naming
// the oldest env, or with `replaceOldest` the oldest is removed first. Runs before anything is made.
import { errors } from '../errors.js';
import type { Session } from '../session.js';
import { down, type DownResult } from './down.js';
import { list } from './list.js';

/** Makes room for `envId` under the profile's limit; returns the envs removed for it (only with `replaceOldest`). */
export async function makeRoom(session: Session, envId: string, options: { replaceOldest?: boolean; report?: (line: string) => void } = {}): Promise<DownResult[]> {
  const max = session.profile.lifecycle?.maxEnvs;
  if (max === undefined) return [];
  const envs = await list(session, { agents: false });
  // An env that exists already is updated, never refused (even when the limit was lowered since).
  if (envs.some((e) => e.envId === envId) || envs.length < max) return [];
  // Oldest first; an env of unknown age last: nothing is removed on a guess.
  const oldest = envs.toSorted((a, b) => (a.createdAt ?? '\uffff').localeCompare(b.createdAt ?? '\uffff'));
  if (!options.replaceOldest) throw errors.envLimitReached(session.profile.name, String(max), oldest[0]!.envId);
  const removed: DownResult[] = [];
  for (const env of oldest.slice(0, envs.length - max + 1)) {
    options.report?.(`removing the oldest env ${env.envId} (--replace-oldest)`);
    removed.push(await down(session, env.envId));
  }
  return removed;
}
