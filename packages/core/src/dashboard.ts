// `prevu dashboard`: a login link for the tunnel server's dashboard. The token is the JWT of
// private access (access-token.ts) signed by the account key, marked `dsh` (it opens no tunnel),
// good for a few minutes and traded once for a session cookie: no password exists anywhere.
import { signAccessToken } from './access-token.js';
import { ACCOUNT_SESSION_ENV } from './names.js';
import { connectTunnelServer, type Session } from './session.js';
import { dashboardUrl, parseBaseUrl } from './urls.js';

/** How long the link may wait to be opened; the tunnel server refuses longer-lived ones. */
export const DASHBOARD_LINK_TTL_S = 300;

export async function dashboardLink(session: Session): Promise<{ url: string; expiresAt: string }> {
  const { hello, client } = await connectTunnelServer(session, ACCOUNT_SESSION_ENV);
  client.close();
  const token = await signAccessToken({ privateKey: session.key.privateKey, ttlSeconds: DASHBOARD_LINK_TTL_S, dashboard: true });
  const url = new URL('/login', dashboardUrl(parseBaseUrl(hello.baseUrl)));
  url.searchParams.set('token', token);
  return { url: url.href, expiresAt: new Date(Date.now() + DASHBOARD_LINK_TTL_S * 1000).toISOString() };
}
