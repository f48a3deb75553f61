// `prevu connect`: a port on 127.0.0.1 forwarded to a service of the env that speaks TCP but not
// HTTP (Postgres, Redis), through the tunnel server as the account: one SSH connection, one
// direct-tcpip channel per local connection, until Ctrl-C. `hello` says first whether this key
// holds a tunnel for the service, so a wrong service, env or key is one line before anything
// listens; the server checks it again for every channel (tunnel-server/src/ssh/connect.ts).
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { AgentClient } from '../agent-client.js';
import { InterruptedError } from '../docker-cli.js';
import { errors, type PrevuError } from '../errors.js';
import { connectTunnelServer, type Session } from '../session.js';
import type { TunnelInfo } from '../tunnel-protocol.js';

export interface ConnectOptions {
  service: string;
  port?: number;
  /** 0 or absent: a free port. */
  localPort?: number;
  /** Once, when the local port listens: `127.0.0.1:<port>`, and the forward it reaches. */
  onListening(address: string, target: TunnelInfo): void;
  /** A local connection the server refused (the port stays open for the next). */
  onRefused(error: PrevuError): void;
}

/** The tunnel of the env a service (and port) names, or one line saying why there is none. */
export function connectTarget(tunnels: TunnelInfo[], envId: string, service: string, port?: number): TunnelInfo {
  const mine = tunnels.filter((t) => t.service === service);
  // a one-port service's forward carries no port: it is the service's one, whatever it is
  const chosen = port === undefined ? mine : mine.filter((t) => t.port === port || t.port === undefined);
  if (chosen.length === 1) return chosen[0]!;
  if (chosen.length > 1) throw errors.connectPortAmbiguous(service, chosen.map((t) => t.port).join(', '));
  const known = tunnels.length ? `its tunnels: ${tunnels.map((t) => t.name).join(', ')}` : 'it has none';
  throw errors.connectNoTarget(`service "${service}"${port === undefined ? '' : ` on port ${port}`}`, envId, known);
}

/** Runs until the session's signal aborts (then InterruptedError, exit 130 like `logs -f`) or the server goes away. */
export async function connect(session: Session, envId: string, options: ConnectOptions): Promise<never> {
  const { client, hello, endpoint } = await connectTunnelServer(session, envId);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  try {
    // a one-port service's forward name carries no port: its agent knows it (best effort: without
    // an answer the port goes unchecked, and the server still refuses what this key does not hold)
    const agent = new AgentClient({ envId, accountId: hello.accountId, baseUrl: hello.baseUrl, privateKey: session.key.privateKey });
    const rows = (hello.tunnels.length ? await agent.tunnels(session.signal).catch(() => undefined) : undefined) ?? [];
    const tunnels = hello.tunnels.map((t) => ({ ...t, port: t.port ?? rows.find((r) => r.hostname === t.hostname)?.port }));
    const target = connectTarget(tunnels, envId, options.service, options.port);
    const label = `${target.name} of env "${envId}"`;
    server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      client.openTcp(target.name, target.port ?? options.port ?? 0, { address: '127.0.0.1', port: socket.remotePort ?? 0 }).then(
        (channel) => pipeline(socket, channel, socket, () => (socket.destroy(), channel.destroy())),
        (error: Error) => {
          socket.destroy();
          options.onRefused(errors.connectRefused(label, error.message.replace(/^\(SSH\) /, '')));
        },
      );
    });
    server.listen(options.localPort ?? 0, '127.0.0.1');
    // once() rejects with the 'error' the listen emits instead (EADDRINUSE, EACCES)
    await once(server, 'listening').catch((error: NodeJS.ErrnoException) => {
      throw errors.connectLocalPortBusy(`127.0.0.1:${options.localPort}`, error.code ?? error.message);
    });
    const address = server.address();
    options.onListening(`127.0.0.1:${typeof address === 'object' && address ? address.port : options.localPort}`, target);
    return await new Promise<never>((_, reject) => {
      if (session.signal?.aborted) return reject(new InterruptedError());
      session.signal?.addEventListener('abort', () => reject(new InterruptedError()), { once: true });
      client.onClose(() => reject(errors.tunnelServerUnreachable(endpoint.address, 'the connection closed')));
    });
  } finally {
    server?.close();
    for (const socket of sockets) socket.destroy();
    client.close();
  }
}
