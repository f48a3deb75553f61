// The environment as the agent sees it: one entry per compose service, rebuilt from docker at
// start and after every reconnect (so it is idempotent), and kept current by docker events.
// It decides whether a service is routed (ready) or answered with a page saying why not, and it
// runs the health rules: 3 failed checks -> `unhealthy`, 3 restarts in 60 s -> stop + `crash_loop`.
// A service without a healthcheck is ready once its ports accept connections (listen-probe.ts).
import type { Logger } from 'pino';
import type { RoutingState } from '@prevu/core/agent-protocol';
import { AGENT_SERVICE } from '@prevu/core/names';
import { SERVICE_LABEL, type ContainerInfo, type DockerApi, type DockerEvent } from './docker.js';
import type { EventLog } from './event-log.js';
import { refusalReason } from './listen-probe.js';
import { exposedPorts, h2cPorts, hasHealthcheck, tcpOnlyPorts } from './services.js';

export const FAILED_CHECKS = 3;
export const CRASH_RESTARTS = 3;
export const CRASH_WINDOW_MS = 60_000;
export const LOG_LINES = 20;

interface ContainerState {
  id: string;
  running: boolean;
  health?: 'starting' | 'healthy' | 'unhealthy';
  exitCode: number;
  /** The last inspect: what diagnosis.ts explains a service from (OOM, memory limit, depends_on, checks). */
  inspected?: ContainerInfo;
}

export interface ServiceEntry {
  service: string;
  ports: number[];
  /** Of `ports`, those for `prevu connect` only (no public URL). */
  tcpPorts: number[];
  /** Of those, the ones that speak HTTP/2 in clear (gRPC). */
  h2c: number[];
  healthchecked: boolean;
  containers: Map<string, ContainerState>;
  /** Set when the crash-loop guard stopped the service. */
  crashLoop?: { exitCode: number };
  /** Times of restarts (a start after a crash) inside the crash window. */
  restarts: number[];
  /** The last die was a crash: not preceded by a kill from docker (stop, restart, kill). */
  crashed: boolean;
  /** Containers docker was asked to kill (their next die is not a crash). */
  killing: Set<string>;
  unhealthyReported: boolean;
  /** A setting of the service the agent could not use (bad label). */
  problem?: string;
  /** Without a healthcheck: ports that accepted a connection since the service last started. */
  listening: Set<number>;
  /** When the service last started (ms), for how long a port may refuse before it is explained. */
  startedAt?: number;
  /** What its newest container listens on, read when a port kept refusing; undefined list: unreadable. */
  sockets?: { at: number; list: string[] | undefined; stable: boolean };
}

/** A port the listen probe still has to try. */
export interface PendingPort {
  service: string;
  container: string;
  port: number;
  startedAt: number | undefined;
  socketsAt: number | undefined;
}

export interface Route {
  state: RoutingState;
  /** Why it is not routed, for the page a browser sees. */
  reason?: string;
}

export class Environment {
  readonly services = new Map<string, ServiceEntry>();
  /** The agent's own container (not routed or guarded, but its logs are asked for). */
  agentContainer: string | undefined;
  private readonly listeners = new Set<() => void>();
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;

  constructor(
    private readonly docker: DockerApi,
    private readonly project: string,
    private readonly events: EventLog,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called whenever the set of services/ports may have changed. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** What every service answers while the env is expired or asleep (lifecycle.ts); undefined: route as usual. */
  hold: () => Route | undefined = () => undefined;

  /** Whether a request to `port` of the service (any port when omitted) is proxied, and if not why. */
  route(service: string, port?: number): Route {
    const held = this.hold();
    if (held) return held;
    const entry = this.services.get(service);
    if (!entry) return { state: 'stopped', reason: `service ${service} has no container in this environment` };
    if (entry.crashLoop) {
      return {
        state: 'crash_loop',
        reason: `service ${service} restarted ${CRASH_RESTARTS} times within ${CRASH_WINDOW_MS / 1000} s (last exit code ${entry.crashLoop.exitCode}) and was stopped; see \`prevu logs ${service}\``,
      };
    }
    const running = [...entry.containers.values()].filter((c) => c.running);
    if (running.length === 0) {
      const last = [...entry.containers.values()].at(-1);
      return { state: 'stopped', reason: `service ${service} is not running${last ? ` (exit code ${last.exitCode})` : ''}` };
    }
    if (!entry.healthchecked) {
      const refusing = (port === undefined ? entry.ports : entry.ports.filter((p) => p === port)).filter((p) => !entry.listening.has(p));
      if (!refusing.length) return { state: 'ready' };
      return { state: 'starting', reason: `service ${service} is starting: ${refusalReason(refusing[0]!, entry.sockets?.list)}` };
    }
    if (running.some((c) => c.health === 'healthy')) return { state: 'ready' };
    if (running.some((c) => c.health === 'unhealthy')) return { state: 'unhealthy', reason: `service ${service} is failing its healthcheck` };
    return { state: 'starting', reason: `service ${service} is starting (waiting for its healthcheck to pass)` };
  }

  /** Rebuilds the table from docker; concurrent calls coalesce into one more run. */
  resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      try {
        do {
          this.resyncAgain = false;
          await this.resyncOnce();
        } while (this.resyncAgain);
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  private async resyncOnce(): Promise<void> {
    const listed = await this.docker.listProject(this.project);
    const infos = (
      await Promise.all(listed.map((c) => this.docker.inspect(c.Id).catch(() => undefined)))
    ).filter((i): i is ContainerInfo => i !== undefined);
    const seen = new Set<string>();
    for (const info of infos) {
      const service = info.Config.Labels?.[SERVICE_LABEL];
      if (service === AGENT_SERVICE) this.agentContainer = info.Id;
      if (!service || service === AGENT_SERVICE) continue;
      seen.add(service);
      const entry = this.entry(service);
      this.applyInspect(entry, info);
    }
    // Containers gone since the last look (destroyed) drop out; services with none left too.
    const ids = new Set(infos.map((i) => i.Id));
    for (const [service, entry] of this.services) {
      for (const id of entry.containers.keys()) if (!ids.has(id)) entry.containers.delete(id);
      if (!seen.has(service)) this.services.delete(service);
    }
    this.changed();
  }

  /** Ports of running services without a healthcheck that have not accepted a connection yet. */
  portsToProbe(): PendingPort[] {
    const pending: PendingPort[] = [];
    for (const entry of this.services.values()) {
      if (entry.healthchecked || entry.crashLoop) continue;
      const newest = [...entry.containers.values()].filter((c) => c.running).at(-1);
      if (!newest) continue;
      for (const port of entry.ports) {
        if (!entry.listening.has(port)) pending.push({ service: entry.service, container: newest.id, port, startedAt: entry.startedAt, socketsAt: entry.sockets?.at });
      }
    }
    return pending;
  }

  markListening(service: string, port: number): void {
    const entry = this.services.get(service);
    if (!entry || entry.listening.has(port)) return;
    entry.listening.add(port);
    this.changed();
  }

  setSockets(service: string, list: string[] | undefined): void {
    const entry = this.services.get(service);
    if (!entry) return;
    const previous = entry.sockets;
    const same = previous !== undefined && JSON.stringify(previous.list) === JSON.stringify(list);
    // Two readings alike (5 s apart) make an explanation that stands: a slow start under load can
    // show nothing listening at the first.
    entry.sockets = { at: this.now(), list, stable: same };
    // a new or newly standing explanation is news (the agent announces a standing one as a diagnosis)
    if (!same || !previous.stable) this.changed();
  }

  private entry(service: string): ServiceEntry {
    let entry = this.services.get(service);
    if (!entry) {
      entry = { service, ports: [], tcpPorts: [], h2c: [], healthchecked: false, containers: new Map(), restarts: [], crashed: false, killing: new Set(), unhealthyReported: false, listening: new Set() };
      this.services.set(service, entry);
    }
    return entry;
  }

  private applyInspect(entry: ServiceEntry, info: ContainerInfo): void {
    try {
      entry.ports = exposedPorts(info.Config);
      entry.tcpPorts = tcpOnlyPorts(info.Config);
      entry.h2c = h2cPorts(info.Config);
      delete entry.problem;
    } catch (error) {
      entry.ports = [];
      entry.tcpPorts = [];
      entry.h2c = [];
      entry.problem = (error as Error).message;
      this.log.warn({ service: entry.service }, entry.problem);
    }
    entry.healthchecked = hasHealthcheck(info.Config);
    if (info.State.Running) {
      const started = Date.parse(info.State.StartedAt);
      if (Number.isFinite(started) && started > (entry.startedAt ?? 0)) entry.startedAt = started;
    }
    entry.containers.set(info.Id, {
      id: info.Id,
      running: info.State.Running,
      ...(info.State.Health ? { health: info.State.Health.Status } : {}),
      exitCode: info.State.ExitCode,
      inspected: info,
    });
    // After an agent restart the crash-loop mark is read back from docker: the container is
    // stopped with a failing exit code after restarts by its policy.
    if (!entry.crashLoop && !info.State.Running && info.State.Status === 'exited' && info.State.ExitCode !== 0 && info.RestartCount >= CRASH_RESTARTS) {
      entry.crashLoop = { exitCode: info.State.ExitCode };
    }
  }

  /** Applies one docker event at once (routing must not lag), then resyncs for the rest. */
  handleDockerEvent(e: DockerEvent): void {
    const service = e.Actor.Attributes[SERVICE_LABEL];
    if (!service || service === AGENT_SERVICE) return;
    const id = e.Actor.ID;
    const entry = this.entry(service);
    const container = entry.containers.get(id);
    const action = e.Action;
    const now = this.now();

    if (action === 'kill') {
      entry.killing.add(id);
      return;
    }
    if (action === 'start') {
      if (entry.crashed && !entry.crashLoop) entry.restarts.push(now);
      entry.crashed = false;
      entry.restarts = entry.restarts.filter((t) => now - t <= CRASH_WINDOW_MS);
      delete entry.crashLoop;
      entry.unhealthyReported = false;
      // A new process: whatever listened before says nothing about this one.
      entry.listening.clear();
      delete entry.sockets;
      entry.startedAt = now;
      if (container) {
        container.running = true;
        if (entry.healthchecked) container.health = 'starting';
      }
      this.events.emit('starting', service, { container: id.slice(0, 12) });
      if (entry.restarts.length >= CRASH_RESTARTS) void this.crashLoop(entry, id);
    } else if (action === 'die') {
      const exitCode = Number(e.Actor.Attributes.exitCode ?? 0);
      // `docker restart`/`stop` kill first; a process that exits on its own (or is OOM-killed) crashed.
      entry.crashed = !entry.killing.delete(id);
      if (container) {
        container.running = false;
        container.exitCode = exitCode;
        delete container.health;
      }
      if (!entry.crashLoop) this.events.emit('stopped', service, { container: id.slice(0, 12), exitCode });
    } else if (action.startsWith('health_status')) {
      const status = action.split(':')[1]?.trim();
      if (container && (status === 'healthy' || status === 'unhealthy' || status === 'starting')) container.health = status;
      if (status === 'healthy') {
        entry.unhealthyReported = false;
        this.events.emit('healthy', service, { container: id.slice(0, 12) });
      } else if (status === 'unhealthy') void this.checkHealth(entry, id);
    } else if (action === 'exec_die') {
      // Each health probe is an exec: count failures ourselves so "3 failed checks" does not
      // depend on the healthcheck's `retries`.
      if (entry.healthchecked && !entry.unhealthyReported) void this.checkHealth(entry, id);
      return;
    } else if (action === 'destroy') {
      entry.containers.delete(id);
    } else if (action !== 'create') {
      return;
    }
    this.changed();
    void this.resync().catch((error: Error) => this.log.warn({ err: error.message }, 'resync after docker event failed'));
  }

  private async checkHealth(entry: ServiceEntry, id: string): Promise<void> {
    try {
      const info = await this.docker.inspect(id);
      const health = info.State.Health;
      if (!health || entry.unhealthyReported) return;
      if (health.FailingStreak < FAILED_CHECKS && health.Status !== 'unhealthy') return;
      entry.unhealthyReported = true;
      const lastCheck = health.Log?.at(-1);
      this.events.emit('unhealthy', entry.service, {
        container: id.slice(0, 12),
        failingStreak: health.FailingStreak,
        ...(info.State.Running ? {} : { exitCode: info.State.ExitCode }),
        ...(lastCheck ? { lastCheck: { exitCode: lastCheck.ExitCode, output: lastCheck.Output.trim() } } : {}),
        logs: await this.docker.logs(id, LOG_LINES),
      });
    } catch (error) {
      this.log.warn({ service: entry.service, err: (error as Error).message }, 'health check inspection failed');
    }
  }

  private async crashLoop(entry: ServiceEntry, id: string): Promise<void> {
    const last = entry.containers.get(id);
    entry.crashLoop = { exitCode: last?.exitCode ?? 0 };
    entry.restarts = [];
    this.changed();
    try {
      const ids = [...entry.containers.keys()];
      await Promise.all(ids.map((c) => this.docker.stop(c)));
      const info = await this.docker.inspect(id);
      // The stop itself ends with SIGTERM/SIGKILL: report the exit code of the crashes.
      entry.crashLoop = { exitCode: last?.exitCode || info.State.ExitCode };
      this.events.emit('crash_loop', entry.service, {
        container: id.slice(0, 12),
        exitCode: entry.crashLoop.exitCode,
        restarts: CRASH_RESTARTS,
        windowSeconds: CRASH_WINDOW_MS / 1000,
        stopped: true,
        logs: await this.docker.logs(id, LOG_LINES),
      });
    } catch (error) {
      this.log.error({ service: entry.service, err: (error as Error).message }, 'could not stop the crash-looping service');
    }
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
