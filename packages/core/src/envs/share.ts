// Share links are records on the tunnel server (`prevu share`, `share ls`, `share rm`, and
// `urls --share` as a shortcut): the CLI registers a record (id, env, service scope, expiry, with a
// password its scrypt hash) over the account's connection, then signs a login token that carries
// only the record's id. Removing the record refuses the link at once (docs/architecture.md).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { hashPassword, MIN_PASSWORD_LENGTH, SHARE_ID, signAccessToken } from '../access-token.js';
import { errors } from '../errors.js';
import { ACCOUNT_SESSION_ENV } from '../names.js';
import { connectTunnelServer, type Session } from '../session.js';
import type { ShareLinkInfo, ShareLinkRegistration, ShareRevokeReply } from '../tunnel-protocol.js';
import type { TunnelServerClient } from '../tunnel-server-client.js';
import type { UrlRow } from '../url-rows.js';

export interface SharedUrl extends UrlRow {
  /** Opens the URL in a browser: the tunnel server trades the token for an HttpOnly cookie. */
  share: string;
  expiresAt: string;
}

export interface ShareLink {
  id: string;
  envId: string;
  service?: string;
  expiresAt: string;
  password: boolean;
  urls: SharedUrl[];
}

const okSchema = z.object({ ok: z.literal(true) });
const listSchema: z.ZodType<ShareLinkInfo[]> = z.array(
  z.object({ id: z.string(), envId: z.string(), service: z.string().optional(), createdAt: z.number(), expiresAt: z.number(), password: z.boolean() }),
);
const revokeSchema: z.ZodType<ShareRevokeReply> = z.object({ ok: z.literal(true), revoked: z.boolean() });

/** Runs `fn` on a connection to the tunnel server that `hello` checked (host key, account). */
async function withServer<T>(session: Session, envId: string, fn: (client: TunnelServerClient) => Promise<T>): Promise<T> {
  const { client } = await connectTunnelServer(session, envId);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/**
 * A share link for `rows` (the env's URLs, or one service's): the record goes to the tunnel server
 * first, so a token never exists that the server cannot revoke.
 */
export async function createShare(session: Session, envId: string, rows: UrlRow[], options: { ttlHours: number; service?: string; password?: string }): Promise<ShareLink> {
  const ttlSeconds = options.ttlHours * 3600;
  const { password, service } = options;
  if (password !== undefined) {
    if (!session.profile.private) throw errors.sharePasswordPublic(session.profile.name);
    if (password.length < MIN_PASSWORD_LENGTH) throw errors.sharePasswordShort(MIN_PASSWORD_LENGTH);
  }
  const chosen = service === undefined ? rows : rows.filter((r) => r.service === service);
  if (service !== undefined && chosen.length === 0) {
    throw errors.unknownService(service, envId, `choose from: ${[...new Set(rows.map((r) => r.service))].sort().join(', ')}`);
  }
  const id = randomBytes(18).toString('base64url');
  const expiresAtS = Math.floor(Date.now() / 1000) + ttlSeconds;
  const registration: ShareLinkRegistration = {
    id,
    ...(service !== undefined ? { service } : {}),
    ...(password !== undefined ? await hashPassword(password) : {}),
    expiresAt: expiresAtS,
  };
  await withServer(session, envId, (client) => client.execJson('share-create', okSchema, JSON.stringify(registration)));
  const token = await signAccessToken({ privateKey: session.key.privateKey, envId, ttlSeconds, shareId: id });
  const expiresAt = new Date(expiresAtS * 1000).toISOString();
  const urls = chosen.map((row) => {
    const share = new URL('/_prevu/login', row.url);
    share.searchParams.set('token', token);
    return { ...row, share: share.href, expiresAt };
  });
  return { id, envId, ...(service !== undefined ? { service } : {}), expiresAt, password: password !== undefined, urls };
}

/** The account's live share links (every env, or one), oldest first. */
export async function listShares(session: Session, envId?: string): Promise<ShareLinkInfo[]> {
  const all = await withServer(session, envId ?? ACCOUNT_SESSION_ENV, (client) => client.execJson('share-ls', listSchema));
  return envId === undefined ? all : all.filter((s) => s.envId === envId);
}

/** Revokes a share link: the tunnel server refuses its token (and cookies made from it) at once. */
export async function removeShare(session: Session, id: string): Promise<void> {
  if (!SHARE_ID.test(id)) throw errors.shareUnknown(id);
  const reply = await withServer(session, ACCOUNT_SESSION_ENV, (client) => client.execJson('share-rm', revokeSchema, JSON.stringify({ id })));
  if (!reply.revoked) throw errors.shareUnknown(id);
}
