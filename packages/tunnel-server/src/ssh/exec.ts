// Session channels: `exec hello` and `exec tunnels` answer one JSON object on stdout. They only
// read the registry, so a connection that runs them (the CLI's) never disturbs the env's tunnels.
import type { Session } from 'ssh2';
import type { HelloReply, TunnelInfo } from '@prevu/core/tunnel-protocol';
import type { Registry, Tunnel } from '../registry.js';
import type { SshConnection } from './connection.js';

export interface PublicUrls {
  /** e.g. `http://localhost:8080`, or `https://example.test` on 443. */
  baseUrl: string;
  urlFor(hostname: string): string;
}

export function envReport(conn: SshConnection, registry: Registry, urls: PublicUrls): HelloReply {
  const view = (t: Tunnel): TunnelInfo => ({
    name: t.name,
    service: t.service,
    ...(t.port !== undefined ? { port: t.port } : {}),
    hostname: t.hostname,
    url: urls.urlFor(t.hostname),
    private: t.private,
  });
  return {
    accountId: conn.accountId,
    envId: conn.envId,
    baseUrl: urls.baseUrl,
    tunnels: registry.forEnv(conn.accountId, conn.envId).map(view),
  };
}

const COMMANDS = new Set(['hello', 'tunnels']);

export function handleSession(conn: SshConnection, registry: Registry, urls: PublicUrls, acceptSession: () => Session): void {
  const session = acceptSession();
  session.on('pty', (accept) => accept?.());
  session.on('env', (accept) => accept?.());
  session.on('exec', (accept, _reject, info) => {
    const channel = accept();
    const command = info.command.trim();
    if (!COMMANDS.has(command)) {
      channel.stderr.write(`prevu: unknown command "${command}"; try "hello" or "tunnels"\n`);
      channel.exit(1);
      channel.end();
      return;
    }
    channel.write(`${JSON.stringify(envReport(conn, registry, urls))}\n`);
    channel.exit(0);
    channel.end();
  });
  // `ssh env@server` without a command: say hello the same way, then close.
  session.on('shell', (accept) => {
    const channel = accept();
    channel.write(`${JSON.stringify(envReport(conn, registry, urls))}\n`);
    channel.exit(0);
    channel.end();
  });
}
