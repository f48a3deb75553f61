// The profile session every command runs in (profile, account key, Ctrl-C, events) and how it
// reaches the tunnel server as the account: the embedded one started when the profile uses it,
// the server's host key checked against the pin or recorded at first contact, `hello` asked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { embeddedSettings, embeddedStatus, ensureEmbeddedServer } from './embedded-server.js';
import { errors } from './errors.js';
import type { PrevuEvent } from './events.js';
import type { AccountKey, Profile, ProfileStore } from './profiles.js';
import { parseTunnelAddress } from './tunnel-address.js';
import { TunnelServerClient, tunnelExec, type Hello, type HelloOptions } from './tunnel-server-client.js';

export interface Session {
  store: ProfileStore;
  profile: Profile;
  key: AccountKey;
  signal?: AbortSignal;
  onEvent?: (event: PrevuEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface TunnelEndpoint {
  /** Where the CLI reaches the SSH port, and where the agent does (tunnel-address.ts). */
  address: string;
  agentAddress: string;
  /**
   * For a tls:// agent address with another host than the CLI's: the name its certificate is
   * checked against, the CLI's (the agent's address is another way to the same server).
   */
  agentTlsName?: string;
  hostKey?: string;
  externalNetworks: string[];
}

/** The profile's --ca-file (PEM), read at each use: a renewed CA file needs no new profile. */
export function profileCa(profile: Profile): string | undefined {
  const ts = profile.tunnelServer;
  if (ts.type !== 'remote' || !ts.caFile) return undefined;
  try {
    return readFileSync(ts.caFile, 'utf8');
  } catch (error) {
    throw errors.caFileUnreadable(ts.caFile, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
}

/** agentTlsName: the CLI's host when both addresses are tls:// and the hosts differ. */
function agentTlsName(address: string, agentAddress: string): string | undefined {
  const [mine, agents] = [parseTunnelAddress(address), parseTunnelAddress(agentAddress)];
  return mine?.tls && agents?.tls && mine.host !== agents.host ? mine.host : undefined;
}

/** How the CLI logs in to the tunnel server as the account, for one env. */
export function tunnelServerOptions(session: Session, envId: string, endpoint: Pick<TunnelEndpoint, 'address' | 'hostKey'>): HelloOptions {
  const ts = session.profile.tunnelServer;
  const ca = profileCa(session.profile);
  return {
    address: endpoint.address,
    privateKey: session.key.privateKey,
    envId,
    recordedIn: join(session.store.profileDir(session.profile.name), 'profile.json'),
    ...(endpoint.hostKey ? { hostKey: endpoint.hostKey } : {}),
    ...(ts.type === 'remote' && ts.hostKeyPinned ? { hostKeyPinned: true } : {}),
    ...(ca ? { ca } : {}),
  };
}

/**
 * Starts the embedded server when the profile uses it, connects as the account and asks `hello`.
 * The connection stays open for the commands that follow (agent-key, share-create): the caller
 * closes `client`.
 */
export async function connectTunnelServer(
  session: Session,
  envId: string,
  report: (line: string) => void = () => {},
  options: { startEmbedded?: boolean } = {},
): Promise<{ endpoint: TunnelEndpoint; hello: Hello; client: TunnelServerClient }> {
  const ts = session.profile.tunnelServer;
  let endpoint: TunnelEndpoint;
  if (ts.type === 'embedded') {
    // A command that only reaches envs (connect) has nothing to find on a server it would start.
    if (options.startEmbedded === false && !(await embeddedStatus(embeddedSettings(session.env))).running) throw errors.embeddedNotRunning(envId);
    const settings = await ensureEmbeddedServer(embeddedSettings(session.env), report);
    endpoint = { address: `127.0.0.1:${settings.sshPort}`, agentAddress: `${settings.container}:${settings.sshPort}`, externalNetworks: [settings.network] };
  } else {
    const agentAddress = ts.agentAddress ?? ts.address;
    const tlsName = agentTlsName(ts.address, agentAddress);
    endpoint = { address: ts.address, agentAddress, ...(tlsName ? { agentTlsName: tlsName } : {}), ...(ts.hostKey ? { hostKey: ts.hostKey } : {}), externalNetworks: [] };
  }
  report(`hello ${endpoint.address}`);
  const client = await TunnelServerClient.connect(tunnelServerOptions(session, envId, endpoint));
  try {
    const hello = await client.hello();
    if (ts.type === 'remote' && !ts.hostKey) {
      // first contact: record the server's key, later connections (and the agent) check it
      session.store.write({ ...session.profile, tunnelServer: { ...ts, hostKey: client.hostKey } });
      endpoint.hostKey = client.hostKey;
    }
    if (hello.accountId !== session.key.accountId) {
      throw errors.accountMismatch(hello.accountId, session.key.accountId);
    }
    return { endpoint, hello, client };
  } catch (error) {
    client.close();
    throw error;
  }
}

/**
 * `down`: the env's agent key stops opening the account's tunnels, once `removed` has succeeded (a
 * `down` that fails leaves the env as it was); the connection, most of the time it takes, is made
 * meanwhile. Best effort (a server that is not running or does not answer must never keep `down`
 * from removing the env); an embedded server that is stopped is not started for it.
 */
export async function revokeAgentKey(session: Session, envId: string, removed: Promise<unknown>): Promise<void> {
  const ts = session.profile.tunnelServer;
  let endpoint: Pick<TunnelEndpoint, 'address' | 'hostKey'>;
  if (ts.type === 'embedded') {
    const state = await embeddedStatus(embeddedSettings(session.env)).catch(() => undefined);
    if (!state?.running) return;
    endpoint = { address: `127.0.0.1:${state.settings.sshPort}` };
  } else {
    endpoint = { address: ts.address, ...(ts.hostKey ? { hostKey: ts.hostKey } : {}) };
  }
  const options = { ...tunnelServerOptions(session, envId, endpoint), timeoutMs: 5000 };
  const client = await TunnelServerClient.connect(options).catch(() => undefined);
  try {
    if (!(await removed.then(() => true, () => false))) return;
    // a connection dropped while a driver deleted the machine: once more on a new one
    await client?.exec('agent-key-revoke').catch(() => tunnelExec(options, 'agent-key-revoke')).catch(() => undefined);
  } finally {
    client?.close();
  }
}
