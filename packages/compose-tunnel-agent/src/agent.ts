// Wiring: docker -> environment -> desired forwards -> tunnel client; channels -> services; API.
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { AGENT_SERVICE } from '@prevu/core/names';
import { serviceForwards } from '@prevu/core/urls';
import type { LastRequestReply } from '@prevu/core/tunnel-protocol';
import { hashValue, type ServiceConfig, type ServiceRow, type TunnelRow } from '@prevu/core/agent-protocol';
import { createApi } from './api.js';
import type { AgentConfig } from './config.js';
import { diagnose } from './diagnosis.js';
import { DockerApi } from './docker.js';
import { EventLog } from './event-log.js';
import { answerLifecyclePage, handleChannel } from './forward.js';
import { Lifecycle } from './lifecycle.js';
import { deleteOnExpiry } from './lightsail-self-delete.js';
import { ListenProbe } from './listen-probe.js';
import { Environment } from './state.js';
import { backoffDelay, TunnelClient, type Forward } from './tunnel-client.js';

export class Agent {
  readonly docker: DockerApi;
  readonly events: EventLog;
  readonly env: Environment;
  readonly tunnel: TunnelClient;
  readonly lifecycle: Lifecycle;
  private readonly probe: ListenProbe;
  private readonly api: Server;
  private readonly abort = new AbortController();
  private readonly announced = new Map<string, string>();
  /** service -> the cause last announced in a `diagnosis` event. */
  private readonly diagnosed = new Map<string, string>();
  private forwards: Forward[] = [];

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.docker = new DockerApi(config.dockerSocket);
    this.events = new EventLog(config.envId, (event) => log.info({ event }, event.type));
    this.env = new Environment(this.docker, config.project, this.events, log);
    this.tunnel = new TunnelClient({
      address: config.tunnel,
      ...(config.tlsName ? { tlsName: config.tlsName } : {}),
      ...(config.ca ? { ca: config.ca } : {}),
      envId: config.envId,
      privateKey: config.privateKey,
      ...(config.hostKey ? { hostKey: config.hostKey } : {}),
      log,
      onChannel: (forward, channel) => {
        if (forward.service === AGENT_SERVICE) {
          handleChannel(channel, { host: '127.0.0.1', port: config.apiPort }, { state: 'ready' }, log, AGENT_SERVICE);
        } else {
          this.onServiceChannel(forward, channel);
        }
      },
    });
    this.lifecycle = new Lifecycle({
      envId: config.envId,
      ...(config.expiresAt ? { expiresAt: config.expiresAt } : {}),
      sleepAfterSeconds: config.sleepAfterSeconds,
      pinned: config.pinned,
      file: config.lifecycleFile,
      docker: this.docker,
      env: this.env,
      events: this.events,
      log,
      lastRequest: async () => JSON.parse(await this.tunnel.exec('last-request')) as LastRequestReply,
    });
    this.env.hold = () => this.lifecycle.hold();
    this.probe = new ListenProbe(this.env, this.docker, log);
    this.env.onChange(() => {
      this.updateForwards();
      this.announceDiagnoses();
    });
    // Docker is the source of truth: after a reconnect, look again before trusting the table.
    this.tunnel.on('connected', () => void this.env.resync().catch((e: Error) => log.warn({ err: e.message }, 'resync failed')));
    this.tunnel.on('hello', () => this.announceUrls());
    this.api = createApi({
      events: this.events,
      tunnels: () => this.tunnels(),
      services: () => this.services(),
      config: (salt) => this.serviceConfigs(salt),
      lifecycle: () => this.lifecycle.freshRow(),
      setPinned: (pinned) => this.lifecycle.setPinned(pinned),
      health: () => {
        const { rss, heapUsed } = process.memoryUsage();
        return {
          ok: true,
          connected: this.tunnel.isConnected,
          replaced: this.tunnel.replaced,
          ...(this.tunnel.lastError ? { lastError: this.tunnel.lastError } : {}),
          envId: config.envId,
          services: this.env.services.size,
          rssBytes: rss,
          heapUsedBytes: heapUsed,
        };
      },
      logs: async (service, tail) => {
        const id = this.newestContainer(service);
        return id ? this.docker.logs(id, tail) : undefined;
      },
      followLogs: async (service, tail, onText, signal) => {
        const id = this.newestContainer(service);
        if (!id) return false;
        await this.docker.followLogs(id, tail, onText, signal);
        return true;
      },
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.api.once('error', reject);
      // Loopback only: its one way in is the private tunnel (account JWT checked by the server), so
      // the project's other containers (and other envs' agents on a shared network) cannot read
      // every service's logs and events.
      this.api.listen(this.config.apiPort, '127.0.0.1', () => resolve());
    });
    this.log.info({ port: (this.api.address() as AddressInfo).port }, 'api listening');
    this.updateForwards();
    this.tunnel.start();
    this.probe.start();
    this.lifecycle.start();
    void this.watchDocker();
    if (this.config.selfDelete) deleteOnExpiry(this.events, this.config.selfDelete, this.log);
  }

  /** Cancels every forward first (its URLs answer 404 from then on), then stops the API and docker calls. */
  async close(): Promise<void> {
    this.abort.abort();
    this.probe.stop();
    this.lifecycle.stop();
    await this.tunnel.close();
    // Not waiting for the API's connections: an open /events WebSocket would hold close() until its client left.
    this.api.close();
    this.api.closeAllConnections();
    this.docker.close();
  }

  /** Follows docker events forever; after each (re)subscription the table is rebuilt. */
  private async watchDocker(): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      try {
        await this.docker.events(
          this.config.project,
          (event) => this.env.handleDockerEvent(event),
          () => {
            attempt = 0;
            void this.env.resync().catch((e: Error) => this.log.warn({ err: e.message }, 'resync failed'));
          },
          this.abort.signal,
        );
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.log.warn({ err: (error as Error).message }, 'docker events stream failed');
      }
      await new Promise((r) => setTimeout(r, backoffDelay(attempt++)));
    }
  }

  /** A visitor's connection: routed, or a lifecycle page (expired, or waking, which an asleep env starts), or a page why not. */
  private onServiceChannel(forward: Forward, channel: Duplex): void {
    const state = this.lifecycle.current;
    const route = this.env.route(forward.service, forward.port);
    if (state === 'expired') return answerLifecyclePage(channel, 'expired', route.reason ?? `env ${this.config.envId} expired`);
    if (state === 'asleep' || state === 'sleeping') this.lifecycle.request();
    if (state !== 'active' && route.state !== 'ready') {
      return answerLifecyclePage(channel, 'waking', `env ${this.config.envId} is waking up; this page reloads by itself once it serves`);
    }
    handleChannel(channel, { host: forward.service, port: forward.port }, route, this.log, forward.service);
  }

  private updateForwards(): void {
    const forwards: Forward[] = [{ name: AGENT_SERVICE, service: AGENT_SERVICE, port: this.config.apiPort, private: true, h2c: false }];
    for (const entry of this.env.services.values()) {
      // a `tcp:` port is private whatever the env: only the account's token opens it over HTTP, `prevu connect` rides it
      for (const { name, port } of serviceForwards(entry.service, entry.ports)) forwards.push({ name, service: entry.service, port, private: this.config.private || entry.tcpPorts.includes(port), h2c: entry.h2c.includes(port) });
    }
    this.forwards = forwards;
    this.tunnel.setForwards(forwards);
  }

  private newestContainer(service: string): string | undefined {
    if (service === AGENT_SERVICE) return this.env.agentContainer;
    const entry = this.env.services.get(service);
    return entry && [...entry.containers.keys()].at(-1);
  }

  tunnels(): TunnelRow[] {
    const known = new Map((this.tunnel.hello?.tunnels ?? []).map((t) => [t.name, t]));
    const refused = new Map((this.tunnel.hello?.refused ?? []).map((r) => [r.name, r]));
    return this.forwards
      .filter((f) => f.service !== AGENT_SERVICE)
      .map((f) => {
        const t = known.get(f.name);
        const r = refused.get(f.name);
        const route = this.env.route(f.service, f.port);
        return {
          service: f.service,
          port: f.port,
          hostname: t?.hostname ?? null,
          url: t?.url ?? null,
          state: route.state,
          ...(this.env.services.get(f.service)?.tcpPorts.includes(f.port) ? { tcp: true } : {}),
          ...(route.reason ? { reason: route.reason } : {}),
          ...(r && !t ? { refused: { reason: r.reason, ...(r.heldByEnv ? { heldByEnv: r.heldByEnv } : {}) } } : {}),
        };
      });
  }

  services(): ServiceRow[] {
    const rows = [...this.env.services.values()].flatMap((entry) => {
      const routing = this.env.route(entry.service).state;
      const why = diagnose(this.env, entry.service);
      return [...entry.containers.values()].map((c) => ({ service: entry.service, state: c.inspected?.State.Status ?? (c.running ? 'running' : 'exited'), health: c.health ?? '', routing, ...(why ? { cause: why.cause, fix: why.fix } : {}) }));
    });
    // The agent does not track its own container; that it answers says how it is.
    return rows.some((r) => r.service === AGENT_SERVICE) ? rows : [...rows, { service: AGENT_SERVICE, state: 'running', health: '', routing: 'ready' }];
  }

  /** A `diagnosis` event for each service whose cause of not being ready is new or changed. */
  private announceDiagnoses(): void {
    for (const service of this.env.services.keys()) {
      const found = diagnose(this.env, service);
      // only a cause that stands: a service that is merely starting is no news
      const why = found?.settled ? found : undefined;
      if (this.diagnosed.get(service) === why?.cause) continue;
      if (why) this.events.emit('diagnosis', service, { cause: why.cause, fix: why.fix });
      if (why) this.diagnosed.set(service, why.cause);
      else this.diagnosed.delete(service);
    }
  }

  serviceConfigs(salt: string): ServiceConfig[] {
    return [...this.env.services.values()].flatMap((entry) => {
      const info = [...entry.containers.values()].at(-1)?.inspected;
      if (!info) return [];
      const env = Object.fromEntries(
        (info.Config.Env ?? []).map((pair) => {
          const i = pair.indexOf('=');
          return [i < 0 ? pair : pair.slice(0, i), hashValue(salt, i < 0 ? '' : pair.slice(i + 1))];
        }),
      );
      return [{ service: entry.service, image: info.Config.Image ?? '', imageId: info.Image ?? '', env }];
    });
  }

  private announceUrls(): void {
    for (const t of this.tunnel.hello?.tunnels ?? []) {
      if (this.announced.get(t.name) === t.url) continue;
      this.announced.set(t.name, t.url);
      this.events.emit('url_assigned', t.service, { name: t.name, port: t.port, hostname: t.hostname, url: t.url, private: t.private });
    }
  }
}
