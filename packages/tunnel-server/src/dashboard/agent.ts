// The dashboard reaches an env's agent from inside the server: a channel on the agent's own
// private tunnel (the one `prevu logs` and `prevu events` reach from outside), HTTP/1.1 over it.
// The channel counts against the env's channel limits like any visitor's (the browser's address).
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AGENT_SERVICE } from '@prevu/core/names';
import type { Registry, Tunnel } from '../registry.js';

/** What an answer may weigh before it is cut: /services and a log tail are a few KiB. */
const MAX_BODY = 512 * 1024;
const TIMEOUT_MS = 10_000;

export function agentTunnel(registry: Registry, key: string, envId: string): Tunnel | undefined {
  return registry.forEnv(key, envId).find((t) => t.service === AGENT_SERVICE);
}

/** Opens `path` on the agent; the response streams (events, logs) until `signal` aborts. */
export async function agentGet(tunnel: Tunnel, path: string, visitor: string, signal?: AbortSignal): Promise<IncomingMessage> {
  const channel = await tunnel.owner.openChannel(tunnel, { address: visitor, port: 0 });
  return new Promise((resolve, reject) => {
    // an SSH channel has no socket timeouts (setTimeout): a timer of our own bounds the wait for the head
    const timer = setTimeout(() => req.destroy(new Error('the agent did not answer in time')), TIMEOUT_MS);
    const req = request({ createConnection: () => channel as unknown as Socket, path, headers: { host: tunnel.hostname, connection: 'close' }, ...(signal ? { signal } : {}) }, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      channel.destroy();
      reject(error);
    });
    req.end();
  });
}

/** A short answer's body (at most MAX_BODY), or undefined when the agent is not there or fails. */
export async function agentText(registry: Registry, key: string, envId: string, path: string, visitor: string): Promise<{ status: number; body: string } | undefined> {
  const tunnel = agentTunnel(registry, key, envId);
  if (!tunnel) return undefined;
  try {
    const res = await agentGet(tunnel, path, visitor);
    let body = '';
    res.setEncoding('utf8');
    for await (const chunk of res) {
      body += chunk as string;
      if (body.length > MAX_BODY) {
        res.destroy();
        break;
      }
    }
    return { status: res.statusCode ?? 0, body: body.slice(0, MAX_BODY) };
  } catch {
    return undefined;
  }
}
