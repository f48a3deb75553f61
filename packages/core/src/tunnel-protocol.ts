// The tunnel server's answer to `exec hello` and `exec tunnels` (one JSON object): written by the
// server, read by the agent and the CLI. Types only, so the agent bundle pays nothing for it.

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
