// Session channels: `exec hello` and `exec tunnels` answer one JSON object on stdout. They only
// read the registry, so a connection that runs them (the CLI's) never disturbs the env's tunnels.
// `exec share-create` keeps a share link's record (JSON on stdin) for the account and env,
// `share-ls` lists the account's live links (every env), `share-rm` (JSON `{id}`) revokes one;
// `exec agent-key` binds the env's agent key (JSON on stdin) to the account, `agent-key-revoke`
// unbinds it. Those act for the account: an agent key's connection may not run them.
// `exec last-request` answers when the env's URLs last had a request (its agent sleeps on it).
import type { Logger } from 'pino';
import type { Session, ServerChannel } from 'ssh2';
import type { HelloReply, LastRequestReply, RefusedForward, TunnelInfo } from '@prevu/core/tunnel-protocol';
import type { Registry, Tunnel } from '../registry.js';
import type { z } from 'zod';
import { agentKeySchema, type AgentKeyStore } from '../agent-keys.js';
import { RegistrationError, registrationSchema, revocationSchema, type ShareLinks } from '../share-links.js';
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
  const refused = new Map<string, RefusedForward>();
  for (const owner of registry.ownersOf(conn.key, conn.envId)) {
    for (const [name, r] of owner.refused) refused.set(name, { name, ...r });
  }
  return {
    accountId: conn.accountId,
    envId: conn.envId,
    baseUrl: urls.baseUrl,
    tunnels: registry.forEnv(conn.key, conn.envId).map(view),
    ...(refused.size ? { refused: [...refused.values()].sort((a, b) => a.name.localeCompare(b.name)) } : {}),
  };
}

const COMMANDS = new Set(['hello', 'tunnels', 'last-request', 'share-create', 'share-ls', 'share-rm', 'agent-key', 'agent-key-revoke']);
const ACCOUNT_COMMANDS = new Set(['share-create', 'share-ls', 'share-rm', 'agent-key', 'agent-key-revoke']);
/** A registration is a few hundred bytes; more is not one. */
const MAX_INPUT = 4096;

export interface SessionContext {
  registry: Registry;
  urls: PublicUrls;
  shares: ShareLinks;
  agentKeys: AgentKeyStore;
  log: Logger;
}

/** Answers and closes; a channel the client already closed gets nothing (a write would throw). */
function finish(channel: ServerChannel, code: number, out: string, err = ''): void {
  if (!channel.writable) return;
  if (out) channel.write(out);
  if (err) channel.stderr.write(err);
  channel.exit(code);
  channel.end();
}

/**
 * Reads one JSON object (at most MAX_INPUT bytes) from the channel's stdin, checked with `schema`;
 * `use` stores it (a RegistrationError's message reaches the client) and the command answers ok.
 */
function registration<S extends z.ZodType>(conn: SshConnection, ctx: SessionContext, channel: ServerChannel, command: string, schema: S, use: (value: z.infer<S>) => object | void | Promise<object | void>): void {
  let input = '';
  let done = false;
  const stop = (code: number, out: string, err = '') => {
    if (done) return;
    done = true;
    channel.removeAllListeners('data');
    channel.resume(); // whatever else arrives is dropped, never buffered
    finish(channel, code, out, err);
  };
  channel.on('error', () => (done = true));
  channel.stderr.on('error', () => (done = true));
  channel.on('close', () => (done = true));
  channel.setEncoding('utf8');
  channel.on('data', (chunk: string) => {
    input += chunk;
    if (input.length > MAX_INPUT) stop(1, '', `prevu: ${command} takes at most ${MAX_INPUT} bytes\n`);
  });
  channel.once('end', async () => {
    if (done) return;
    let parsed: z.ZodSafeParseResult<z.infer<S>>;
    try {
      parsed = schema.safeParse(JSON.parse(input));
    } catch {
      return stop(1, '', `prevu: ${command} reads one JSON object on stdin\n`);
    }
    if (!parsed.success) return stop(1, '', `prevu: ${command}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}\n`);
    let answer: object | void;
    try {
      answer = await use(parsed.data);
    } catch (error) {
      ctx.log.warn({ accountId: conn.accountId, command, err: (error as Error).message }, 'registration refused');
      return stop(1, '', `prevu: ${error instanceof RegistrationError ? error.message : `the tunnel server could not store it (${command})`}\n`);
    }
    ctx.log.info({ accountId: conn.accountId, envId: conn.envId, command }, 'registered');
    stop(0, `${JSON.stringify({ ok: true, ...answer })}\n`);
  });
}

export function handleSession(conn: SshConnection, ctx: SessionContext, acceptSession: () => Session): void {
  const session = acceptSession();
  session.on('pty', (accept) => accept?.());
  session.on('env', (accept) => accept?.());
  // ssh2's accept() gives nothing for a second exec/shell on a session that already runs one
  // (found by the fuzz suite: it threw inside ssh2's parser and cut the connection).
  session.on('exec', (accept, reject, info) => {
    const channel = accept() as ServerChannel | undefined;
    if (!channel) return reject?.();
    const command = info.command.trim();
    if (!COMMANDS.has(command)) return finish(channel, 1, '', `prevu: unknown command "${command}"; try "hello" or "tunnels"\n`);
    if (conn.agentKey && ACCOUNT_COMMANDS.has(command)) return finish(channel, 1, '', `prevu: ${command} needs the account key, not an agent key\n`);
    if (command === 'share-create') return registration(conn, ctx, channel, command, registrationSchema, (r) => ctx.shares.register(conn.key, conn.envId, r));
    if (command === 'share-rm') return registration(conn, ctx, channel, command, revocationSchema, async (r) => ({ revoked: await ctx.shares.revoke(conn.key, r.id) }));
    if (command === 'share-ls') {
      void ctx.shares.list(conn.key).then(
        (links) => finish(channel, 0, `${JSON.stringify(links)}\n`),
        () => finish(channel, 1, '', 'prevu: the tunnel server could not read its share links; try again\n'),
      );
      return;
    }
    if (command === 'agent-key') return registration(conn, ctx, channel, command, agentKeySchema, (r) => ctx.agentKeys.register(conn, conn.envId, r));
    if (command === 'agent-key-revoke') {
      // a full disk (or a Redis away) must not take the server down with it
      void (async () => ctx.agentKeys.revoke(conn, conn.envId))().then(
        (dropped) => {
          ctx.log.info({ accountId: conn.accountId, envId: conn.envId, dropped }, 'agent key revoked');
          finish(channel, 0, `${JSON.stringify({ ok: true, revoked: dropped })}\n`);
        },
        (error: Error) => {
          ctx.log.warn({ accountId: conn.accountId, err: error.message }, 'agent key not revoked');
          finish(channel, 1, '', 'prevu: the tunnel server could not store the revocation\n');
        },
      );
      return;
    }
    if (command === 'last-request') {
      // the server's clock too: the agent measures idle time on one clock, whatever its machine's says
      const at = ctx.registry.lastRequest(conn.key, conn.envId);
      const reply: LastRequestReply = { lastRequestAt: at === undefined ? null : new Date(at).toISOString(), now: new Date().toISOString() };
      return finish(channel, 0, `${JSON.stringify(reply)}\n`);
    }
    finish(channel, 0, `${JSON.stringify(envReport(conn, ctx.registry, ctx.urls))}\n`);
  });
  // `ssh env@server` without a command: say hello the same way, then close.
  session.on('shell', (accept, reject) => {
    const channel = accept() as ServerChannel | undefined;
    if (!channel) return reject?.();
    finish(channel, 0, `${JSON.stringify(envReport(conn, ctx.registry, ctx.urls))}\n`);
  });
}
