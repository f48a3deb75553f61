// The tunnel server's answer to `exec hello`, `exec tunnels` and `exec last-request` (one JSON object): written by the
// server, read by the agent and the CLI; and what `exec agent-key` reads. Next to no code, so the
// agent bundle pays nothing for it.

export interface TunnelInfo {
  /** `<service>-<port>` or `<service>`: the forward name the hostname starts with. */
  name: string;
  service: string;
  /** Absent when the forward name has no port (`<service>`). */
  port?: number;
  hostname: string;
  url: string;
  private: boolean;
}

/** A forward the server refused because another env (or key) holds its hostname. */
export interface RefusedForward {
  name: string;
  hostname: string;
  /** The env of the same key that holds the hostname; absent when another key holds it. */
  heldByEnv?: string;
  /** One sentence, for people. */
  reason: string;
}

export interface HelloReply {
  accountId: string;
  envId: string;
  /** e.g. `http://localhost:8080`, or `https://example.test` on 443. */
  baseUrl: string;
  tunnels: TunnelInfo[];
  /** Forwards of this env refused on its live connections (absent from older servers). */
  refused?: RefusedForward[];
}

/** `exec last-request`: when the env's URLs last had a request (the agent's own API not counted), by the server's clock. */
export interface LastRequestReply {
  /** ISO 8601; null: none since the server started. */
  lastRequestAt: string | null;
  /** The server's time as it answered: idle time is `now - lastRequestAt`, whatever the agent's clock says. */
  now: string;
}

/**
 * `exec agent-key` (JSON on stdin, on a connection made with the account key): the key the env's
 * agent logs in with, so the account key never goes to a machine. `proof` is that key's signature
 * (base64) over `agentKeyStatement(accountId, envId)`: only who holds its private half can bind it.
 */
export interface AgentKeyRegistration {
  /** `ssh-ed25519 AAAA...` */
  publicKey: string;
  proof: string;
}

/** How the server's disconnect message starts when the account revoked or replaced the agent key. */
export const AGENT_KEY_REVOKED = 'prevu-agent-key-revoked:';

export function agentKeyStatement(accountId: string, envId: string): string {
  return `prevu-agent-key-v1 ${accountId} ${envId}`;
}

/**
 * `exec share-create` (JSON on stdin, on a connection made with the account key, logged in as the
 * env): the record a share link's token names by `id`. Scrypt `salt`/`hash` when it has a password.
 */
export interface ShareLinkRegistration {
  id: string;
  /** Only this service's URLs; absent: the whole env. */
  service?: string;
  salt?: string;
  hash?: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** One row of `exec share-ls` (a JSON array): a live link of the account, never its hash. */
export interface ShareLinkInfo {
  id: string;
  envId: string;
  service?: string;
  /** Unix seconds. */
  createdAt: number;
  expiresAt: number;
  password: boolean;
}

/** `exec share-rm` (JSON `{id}` on stdin) answers whether the link was there. */
export interface ShareRevokeReply {
  ok: true;
  revoked: boolean;
}

/**
 * The ALPN protocol id of SSH inside TLS on the tunnel server's HTTPS port: the server hands a
 * TLS connection that chose it to its SSH server, any other to the HTTPS proxy.
 */
export const SSH_ALPN = 'prevu-ssh';
