// Session channels: `exec hello` and `exec tunnels` answer one JSON object on stdout. They only
// read the registry, so a connection that runs them (the CLI's) never disturbs the env's tunnels.
// `exec share-password` keeps a share link's password hash (JSON on stdin) for the account and env.
import type { Logger } from 'pino';
import type { Session, ServerChannel } from 'ssh2';
import type { HelloReply, TunnelInfo } from '@prevu/core/tunnel-protocol';
import type { Registry, Tunnel } from '../registry.js';
import { registrationSchema, type SharePasswords } from '../share-passwords.js';
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

const COMMANDS = new Set(['hello', 'tunnels', 'share-password']);
/** A registration is a few hundred bytes; more is not one. */
const MAX_INPUT = 4096;

export interface SessionContext {
  registry: Registry;
  urls: PublicUrls;
  passwords: SharePasswords;
  log: Logger;
}

function finish(channel: ServerChannel, code: number, out: string, err = ''): void {
  if (out) channel.write(out);
  if (err) channel.stderr.write(err);
  channel.exit(code);
  channel.end();
}

function sharePassword(conn: SshConnection, ctx: SessionContext, channel: ServerChannel): void {
  let input = '';
  channel.setEncoding('utf8');
  channel.on('data', (chunk: string) => {
    input += chunk;
    if (input.length > MAX_INPUT) channel.destroy();
  });
  channel.once('end', () => {
    let parsed: ReturnType<typeof registrationSchema.safeParse>;
    try {
      parsed = registrationSchema.safeParse(JSON.parse(input));
    } catch {
      return finish(channel, 1, '', 'prevu: share-password reads one JSON object on stdin\n');
    }
    if (!parsed.success) return finish(channel, 1, '', `prevu: share-password: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}\n`);
    try {
      ctx.passwords.register(conn.accountId, conn.envId, parsed.data);
    } catch (error) {
      return finish(channel, 1, '', `prevu: ${(error as Error).message}\n`);
    }
    ctx.log.info({ accountId: conn.accountId, envId: conn.envId }, 'share link password registered');
    finish(channel, 0, '{"ok":true}\n');
  });
}

export function handleSession(conn: SshConnection, ctx: SessionContext, acceptSession: () => Session): void {
  const session = acceptSession();
  session.on('pty', (accept) => accept?.());
  session.on('env', (accept) => accept?.());
  session.on('exec', (accept, _reject, info) => {
    const channel = accept();
    const command = info.command.trim();
    if (!COMMANDS.has(command)) return finish(channel, 1, '', `prevu: unknown command "${command}"; try "hello" or "tunnels"\n`);
    if (command === 'share-password') return sharePassword(conn, ctx, channel);
    finish(channel, 0, `${JSON.stringify(envReport(conn, ctx.registry, ctx.urls))}\n`);
  });
  // `ssh env@server` without a command: say hello the same way, then close.
  session.on('shell', (accept) => finish(accept(), 0, `${JSON.stringify(envReport(conn, ctx.registry, ctx.urls))}\n`));
}
