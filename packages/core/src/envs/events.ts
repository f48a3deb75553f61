// `prevu events`: the env's event stream, from its agent through its private tunnel (as `logs`
// reaches /logs): the history the agent keeps, then with `follow` each new event until Ctrl-C.
import { errors } from '../errors.js';
import type { PrevuEvent } from '../events.js';
import type { Session } from '../session.js';
import { agentFor, readState } from './common.js';

export async function events(session: Session, envId: string, options: { follow: boolean; onEvent: (event: PrevuEvent) => void }): Promise<void> {
  const client = agentFor(session, envId, await readState(session, envId));
  if (!options.follow) {
    // the history ends nowhere on the wire: make sure the agent is there, then take what it sends at once
    if (!(await client.tunnels())) throw errors.agentUnreachable(envId, 'not connected to the tunnel server');
    for (const event of await client.recentEvents(Number.POSITIVE_INFINITY)) options.onEvent(event);
    return;
  }
  const status = await client.events(options.onEvent, session.signal).catch((error: Error) => {
    // Ctrl-C ends `events -f` as it ends every command (exit 130)
    throw session.signal?.aborted ? error : errors.tunnelServerUnreachable(client.url, error.message);
  });
  if (status !== 200) throw errors.agentUnreachable(envId, `not answering /events (HTTP ${status})`);
}
