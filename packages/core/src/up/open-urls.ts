// Step 7 of `prevu up`: every URL ready through the agent (healthy, or accepting connections),
// or one line saying why one is not: its forward refused, its name unresolvable, the timeout.
import { AgentClient } from '../agent-client.js';
import type { TunnelRow } from '../agent-protocol.js';
import { InterruptedError } from '../docker-cli.js';
import { errors, isError } from '../errors.js';
import type { ExpectedUrl } from '../overlay.js';
import { poll } from '../poll.js';
import { profileCa } from '../session.js';
import { urlRows } from '../url-rows.js';
import type { Step, UpContext } from './context.js';

export async function waitForUrls(client: Pick<AgentClient, 'tunnels'>, envId: string, expected: ExpectedUrl[], timeoutMs: number, report: (line: string) => void, signal?: AbortSignal): Promise<TunnelRow[]> {
  let last = 'the agent is not connected yet';
  return poll(
    async () => {
      if (signal?.aborted) throw new InterruptedError();
      const tunnels = await client.tunnels(signal).catch((error: Error) => {
        if (isError(error, errors.baseDomainUnresolved)) throw error;
        last = error.message;
        return undefined;
      });
      if (tunnels) {
        const missing = expected.filter((e) => !tunnels.some((t) => t.service === e.service && t.port === e.port && t.url && t.state === 'ready'));
        if (!missing.length) return tunnels;
        // Waiting cannot help a refused forward: its hostname belongs to another env (or key).
        const refused = tunnels.find((t) => t.refused && missing.some((m) => m.service === t.service && m.port === t.port));
        if (refused?.refused) throw errors.forwardRefused(refused.service, refused.port, envId, refused.refused.reason, refused.refused.heldByEnv);
        // The agent's reason names what a port listens on instead, when it knows.
        const why = (m: ExpectedUrl) => tunnels.find((t) => t.service === m.service && t.port === m.port)?.reason;
        last = `waiting for ${missing.map((m) => `${m.service}:${m.port}${why(m) ? ` (${why(m)})` : ''}`).join(', ')}`;
      }
      report(last);
      return undefined;
    },
    { timeoutMs, intervalMs: 200, ...(signal ? { signal } : {}) },
    () => errors.urlsNotReady(Math.round(timeoutMs / 1000), last),
  ).catch((error: Error) => {
    // Ctrl-C between two tries: the interruption every step reports
    throw error.name === 'AbortError' ? new InterruptedError() : error;
  });
}

export const openUrls: Step<UpContext> = {
  title: 'Open the URLs',
  async run(ctx, report) {
    const ca = profileCa(ctx.session.profile);
    const client = new AgentClient({ envId: ctx.envId, accountId: ctx.session.key.accountId, baseUrl: ctx.baseUrl, privateKey: ctx.session.key.privateKey, ...(ca ? { ca } : {}) });
    const timeoutMs = (ctx.options.waitTimeout ?? 120) * 1000;
    const tunnels = await waitForUrls(client, ctx.envId, ctx.expected, timeoutMs, report, ctx.session.signal);
    const rows = urlRows(tunnels, ctx.selected());
    for (const row of rows) ctx.emit('url_assigned', row.service, { port: row.port, url: row.url });
    await ctx.states.setStatus(ctx.envId, 'up');
    ctx.result = { envId: ctx.envId, project: ctx.project, profile: ctx.session.profile.name, driver: ctx.session.profile.driver, urls: rows, missingEnv: ctx.loaded.missingEnv };
  },
};
