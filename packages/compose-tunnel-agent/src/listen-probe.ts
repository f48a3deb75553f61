// Readiness of services without a healthcheck: a running container is only `starting` until each
// exposed port accepts a TCP connection from the agent (the path the proxy takes), so `prevu up`
// never says `ready` for an app still booting. A port that keeps refusing is explained from the
// container's own socket table: nothing listens, or it listens elsewhere (another port, loopback).
import { connect } from 'node:net';
import type { Logger } from 'pino';
import type { DockerApi } from './docker.js';
import type { Environment } from './state.js';

/** How often ports still refusing are tried again. */
export const PROBE_INTERVAL_MS = 250;
/** A port refusing this long is explained from the container's socket table (then every 5 s). */
export const EXPLAIN_AFTER_MS = 2000;
const EXPLAIN_EVERY_MS = 5000;
const CONNECT_TIMEOUT_MS = 1000;

export type Connect = (host: string, port: number) => Promise<boolean>;

/** true when a TCP connection to host:port is accepted (then closed at once). */
export const tcpAccepts: Connect = (host, port) =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

/** `/proc/net/tcp` and `/proc/net/tcp6` rows in LISTEN state as `address:port` (IPv6 in brackets). */
export function listeningSockets(table: string): string[] {
  const found = new Set<string>();
  for (const line of table.split('\n')) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (state !== '0A' || !local?.includes(':')) continue;
    const [hex, portHex] = local.split(':') as [string, string];
    const port = parseInt(portHex, 16);
    // The kernel prints each 32-bit word of the address in host (little-endian) byte order.
    const words = hex.match(/.{8}/g) ?? [];
    const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
    if (bytes.length === 4) {
      found.add(`${bytes.join('.')}:${port}`);
    } else if (bytes.length === 16) {
      const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
      const address = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
      found.add(`[${address}]:${port}`);
    }
  }
  return [...found];
}

/** Why a port refuses, from what the container listens on (undefined when the table is unreadable). */
export function refusalReason(port: number, listening: string[] | undefined): string {
  if (!listening) return `port ${port} does not accept connections yet`;
  const base = `port ${port} does not accept connections`;
  const onPort = listening.filter((s) => s.endsWith(`:${port}`));
  if (onPort.length && onPort.every((s) => /^(127\.|\[::1\])/.test(s))) return `${base}; it listens on ${onPort.join(', ')} only, which the agent cannot reach: bind 0.0.0.0 instead`;
  if (!listening.length) return `${base}; nothing in the container listens on a TCP port`;
  if (!onPort.length) return `${base}; the container listens on ${listening.join(', ')}: expose that port, or pick ports with the prevu.expose label`;
  return `${base} yet`;
}

export class ListenProbe {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly env: Environment,
    private readonly docker: DockerApi,
    private readonly log: Logger,
    private readonly accepts: Connect = tcpAccepts,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round over every port still waiting; rounds never overlap. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const explain = new Map<string, string>();
      await Promise.all(
        this.env.portsToProbe().map(async ({ service, container, port, startedAt, socketsAt }) => {
          if (await this.accepts(service, port)) return this.env.markListening(service, port);
          const now = this.now();
          if (now - (startedAt ?? now) < EXPLAIN_AFTER_MS || (socketsAt !== undefined && now - socketsAt < EXPLAIN_EVERY_MS)) return;
          explain.set(service, container);
        }),
      );
      // One reading per service and round, however many of its ports refuse: two readings that
      // agree must be two moments, not two ports.
      await Promise.all(
        [...explain].map(async ([service, container]) => {
          const table = await this.docker.exec(container, ['cat', '/proc/net/tcp', '/proc/net/tcp6']).catch((error: Error) => {
            this.log.debug({ service, err: error.message }, 'cannot read the socket table (no cat in the image?)');
            return undefined;
          });
          this.env.setSockets(service, table === undefined ? undefined : listeningSockets(table));
        }),
      );
    } finally {
      this.running = false;
    }
  }
}
