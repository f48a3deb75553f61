// `prevu pin` / `prevu unpin`: exempts an env from its TTL and from sleep, or ends that. The env's
// state records it (what `ls` shows and the next `up` starts from), and its agent, which runs the
// lifecycle, is told through its private tunnel (PUT /lifecycle); a pinned env asleep or expired
// is woken by it.
import type { LifecycleRow } from '../agent-protocol.js';
import { EnvStateStore } from '../env-state.js';
import { errors } from '../errors.js';
import type { Session } from '../session.js';
import { agentFor, readState } from './common.js';

export interface PinResult {
  envId: string;
  pinned: boolean;
  /** The lifecycle as the agent runs it now. */
  lifecycle: LifecycleRow;
}

export async function setPinned(session: Session, envId: string, pinned: boolean): Promise<PinResult> {
  const state = await readState(session, envId);
  await new EnvStateStore(session.store, session.profile.name).write({ ...state, lifecycle: { expiresAt: null, sleepAfterSeconds: 0, ...state.lifecycle, pinned } });
  const answer = await agentFor(session, envId, state).setPinned(pinned);
  if (!answer.row) throw errors.agentLifecycleFailed(envId, answer.status === 404 ? 'its agent is not connected, or predates pinning' : `it answered HTTP ${answer.status}`);
  return { envId, pinned, lifecycle: answer.row };
}
