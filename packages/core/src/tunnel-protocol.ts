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

export interface HelloReply {
  accountId: string;
  envId: string;
  /** e.g. `http://localhost:8080`, or `https://example.test` on 443. */
  baseUrl: string;
  tunnels: TunnelInfo[];
}
