// The env's lifecycle, run by its agent: expiry at the TTL, sleep after idle time, wake on a
// request, and the pin that exempts it from both. The state machine:
//   active --TTL passed--> expired (services stopped, every URL a 410 page; `prevu up` again)
//   active --no request for sleepAfter--> sleeping --services stopped--> asleep
//   asleep --a request--> waking --services started in depends_on order, all ready--> active
//   asleep/expired --pinned--> waking (a pinned env runs)
// The tunnel server knows the last request (`exec last-request`, its own clock); the agent owns
// the stop and the start. Pin and sleep survive an agent restart in a small file in its container
// (a new container, which a new `up` makes, starts from the settings again).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { LifecycleRow, LifecycleState } from '@prevu/core/agent-protocol';
import type { LastRequestReply } from '@prevu/core/tunnel-protocol';
import { dependsOn } from './diagnosis.js';
import { DEPENDS_ON_LABEL, type DockerApi } from './docker.js';
import type { EventLog } from './event-log.js';
import type { Environment, Route } from './state.js';

/** How often expiry is checked (it is a comparison) and the least time between two idle polls. */
export const TICK_MS = 1000;
/** The most time between two idle polls of the tunnel server: a 1 h sleepAfter is met within 30 s. */
export const MAX_POLL_MS = 30_000;
/** The longest a wake waits for a dependency to be healthy, or for every service to be ready. */
export const WAKE_WAIT_MS = 120_000;
/** Seconds docker gives a service to stop before it kills it (compose's own default). */
const STOP_SECONDS = 10;

export interface LifecycleOptions {
  envId: string;
  /** When the TTL ends (ISO 8601); absent: no TTL. */
  expiresAt?: string;
  sleepAfterSeconds: number;
  pinned: boolean;
  /** Where pin and state are kept across agent restarts. */
  file: string;
  docker: DockerApi;
  env: Environment;
  events: EventLog;
  log: Logger;
  /** `exec last-request` on the agent's connection to the tunnel server. */
  lastRequest(): Promise<LastRequestReply>;
  now?: () => number;
}

interface Saved {
  pinned: boolean;
  state: 'active' | 'asleep' | 'expired';
  /** Containers the agent stopped, to start again on a wake. */
  stopped: string[];
}

export class Lifecycle {
  private state: LifecycleState = 'active';
  private pinned: boolean;
  private stopped = new Set<string>();
  private lastRequestAt: string | null = null;
  private activeSince: number;
  private lastPoll = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A stop or a start in progress: the tick waits for it. */
  private busy: Promise<void> | undefined;
  /** A request came while the services were being put to sleep: wake once they are. */
  private wakeAsked = false;
  private readonly now: () => number;

  constructor(private readonly options: LifecycleOptions) {
    this.now = options.now ?? Date.now;
    this.pinned = options.pinned;
    this.activeSince = this.now();
  }

  start(): void {
    this.restore();
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    // pinned while it slept (a restart in the middle of a wake): it runs
    if (this.pinned && (this.state === 'asleep' || this.state === 'expired')) void this.run(() => this.wake());
    else void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get current(): LifecycleState {
    return this.state;
  }

  /** GET /lifecycle: the row with the tunnel server's last request asked now (it is polled only while sleep is on). */
  async freshRow(): Promise<LifecycleRow> {
    try {
      this.lastRequestAt = (await this.options.lastRequest()).lastRequestAt;
    } catch (error) {
      this.options.log.debug({ err: (error as Error).message }, 'last-request failed');
    }
    return this.row();
  }

  row(): LifecycleRow {
    return { state: this.state, expiresAt: this.options.expiresAt ?? null, pinned: this.pinned, sleepAfterSeconds: this.options.sleepAfterSeconds, lastRequestAt: this.lastRequestAt };
  }

  /** What every service's URLs answer instead of being routed, while expired or asleep. */
  hold(): Route | undefined {
    const { envId, expiresAt } = this.options;
    if (this.state === 'expired') return { state: 'expired', reason: `env ${envId} expired at ${expiresAt}: run \`prevu up\` again` };
    if (this.state === 'asleep' || this.state === 'sleeping') return { state: 'asleep', reason: `env ${envId} is asleep (no request for ${this.options.sleepAfterSeconds} s); a request wakes it` };
    return undefined;
  }

  /** A request for a service arrived: an asleep env starts waking (the caller answers the waking page). */
  request(): void {
    if (this.state === 'asleep') void this.run(() => this.wake());
    else if (this.state === 'sleeping') this.wakeAsked = true;
  }

  /** PUT /lifecycle: pins or unpins; a pinned env that sleeps or expired is woken. */
  setPinned(pinned: boolean): LifecycleRow {
    this.pinned = pinned;
    this.save();
    this.options.log.info({ pinned }, pinned ? 'pinned' : 'unpinned');
    if (pinned && (this.state === 'asleep' || this.state === 'expired')) void this.run(() => this.wake());
    else if (pinned && this.state === 'sleeping') this.wakeAsked = true;
    else void this.tick();
    return this.row();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    const now = this.now();
    const expires = this.options.expiresAt ? Date.parse(this.options.expiresAt) : Infinity;
    if (this.pinned) return;
    if ((this.state === 'active' || this.state === 'asleep') && now >= expires) return this.run(() => this.expire());
    if (this.state === 'asleep' && this.allRunningAgain()) {
      // Someone started them (`prevu up` with nothing changed, `docker compose start`): awake again.
      this.options.log.info('the stopped services run again: awake');
      this.awake();
      return;
    }
    const sleepAfterMs = this.options.sleepAfterSeconds * 1000;
    if (this.state !== 'active' || !sleepAfterMs || now - this.lastPoll < Math.min(MAX_POLL_MS, Math.max(TICK_MS, sleepAfterMs / 4))) return;
    this.lastPoll = now;
    let reply: LastRequestReply;
    try {
      reply = await this.options.lastRequest();
    } catch (error) {
      this.options.log.debug({ err: (error as Error).message }, 'last-request failed');
      return;
    }
    this.lastRequestAt = reply.lastRequestAt;
    // idle on the server's clock since the last request, and on ours since the env was last woken
    const serverIdle = reply.lastRequestAt ? Date.parse(reply.now) - Date.parse(reply.lastRequestAt) : Infinity;
    const idle = Math.min(serverIdle, this.now() - this.activeSince);
    if (idle >= sleepAfterMs && this.state === 'active' && !this.pinned && !this.busy) await this.run(() => this.sleep(idle));
  }

  private run(work: () => Promise<void>): Promise<void> {
    if (this.busy) return this.busy;
    this.busy = work()
      .catch((error: Error) => this.options.log.error({ err: error.message }, 'lifecycle change failed'))
      .finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async expire(): Promise<void> {
    this.state = 'expired';
    this.options.log.info({ expiresAt: this.options.expiresAt }, 'expired: stopping the services');
    await this.stopServices();
    this.save();
    this.options.events.emit('expired', undefined, { expiresAt: this.options.expiresAt });
  }

  private async sleep(idleMs: number): Promise<void> {
    this.state = 'sleeping';
    this.options.events.emit('sleeping', undefined, { idleSeconds: Math.round(idleMs / 1000) });
    await this.stopServices();
    this.state = 'asleep';
    this.save();
    if (this.wakeAsked) {
      this.wakeAsked = false;
      await this.wake();
    }
  }

  /** Stops every running container of the project but the agent; the crash-loop guard is told it was us. */
  private async stopServices(): Promise<void> {
    const running: string[] = [];
    for (const entry of this.options.env.services.values()) {
      for (const container of entry.containers.values()) {
        if (!container.running) continue;
        entry.killing.add(container.id);
        running.push(container.id);
        this.stopped.add(container.id);
      }
    }
    this.save();
    await Promise.all(running.map((id) => this.options.docker.stop(id, STOP_SECONDS).catch((error: Error) => this.options.log.warn({ container: id.slice(0, 12), err: error.message }, 'stop failed'))));
  }

  /** Starts what sleep or expiry stopped, each service after its depends_on (healthy where it says so). */
  private async wake(): Promise<void> {
    const started = this.now();
    this.state = 'waking';
    this.options.events.emit('waking');
    const { env, docker, log } = this.options;
    const ids = new Map<string, string[]>(); // service -> its containers to start
    const needs = new Map<string, { service: string; condition: string }[]>();
    for (const entry of env.services.values()) {
      const mine = [...entry.containers.keys()].filter((id) => this.stopped.has(id));
      if (!mine.length) continue;
      ids.set(entry.service, mine);
      needs.set(entry.service, dependsOn(entry.containers.get(mine[0]!)?.inspected?.Config.Labels?.[DEPENDS_ON_LABEL]));
    }
    const starting = new Map<string, Promise<void>>();
    const startService = (service: string): Promise<void> => {
      let promise = starting.get(service);
      if (promise) return promise;
      promise = (async () => {
        // compose refuses cycles, so this recursion ends
        await Promise.all(
          (needs.get(service) ?? [])
            .filter((d) => ids.has(d.service))
            .map(async (d) => {
              await startService(d.service);
              if (d.condition === 'service_healthy' && !(await this.until(() => env.route(d.service).state === 'ready'))) log.warn({ service, dependency: d.service }, 'dependency not healthy in time; starting anyway');
            }),
        );
        await Promise.all(ids.get(service)!.map((id) => docker.start(id).catch((error: Error) => log.warn({ service, err: error.message }, 'start failed'))));
      })();
      starting.set(service, promise);
      return promise;
    };
    await Promise.all([...ids.keys()].map(startService));
    const ready = await this.until(() => [...ids.keys()].every((s) => env.route(s).state === 'ready'));
    this.awake();
    this.options.events.emit('woke', undefined, { wakeMs: this.now() - started, ready });
  }

  private awake(): void {
    this.state = 'active';
    this.stopped.clear();
    this.activeSince = this.now();
    this.save();
  }

  /** Whether every container sleep stopped runs again or is gone (compose recreated it), and something runs. */
  private allRunningAgain(): boolean {
    const running = new Map<string, boolean>();
    for (const entry of this.options.env.services.values()) for (const c of entry.containers.values()) running.set(c.id, c.running);
    return this.stopped.size > 0 && [...this.stopped].every((id) => running.get(id) !== false) && [...running.values()].some(Boolean);
  }

  /** Polls `done` every 100 ms for at most WAKE_WAIT_MS; whether it came true. */
  private async until(done: () => boolean): Promise<boolean> {
    const deadline = this.now() + WAKE_WAIT_MS;
    while (!done()) {
      if (this.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }

  private save(): void {
    const saved: Saved = { pinned: this.pinned, state: this.state === 'expired' ? 'expired' : this.state === 'asleep' ? 'asleep' : 'active', stopped: [...this.stopped] };
    try {
      mkdirSync(dirname(this.options.file), { recursive: true });
      writeFileSync(this.options.file, JSON.stringify(saved));
    } catch (error) {
      this.options.log.warn({ file: this.options.file, err: (error as Error).message }, 'could not keep the lifecycle state');
    }
  }

  /** After an agent restart (same container): the pin and the state it had. */
  private restore(): void {
    let saved: Partial<Saved>;
    try {
      saved = JSON.parse(readFileSync(this.options.file, 'utf8')) as Partial<Saved>;
    } catch {
      return; // a new container: the settings say it all
    }
    if (typeof saved.pinned === 'boolean') this.pinned = saved.pinned;
    if (saved.state === 'asleep' || saved.state === 'expired') this.state = saved.state;
    if (Array.isArray(saved.stopped)) this.stopped = new Set(saved.stopped.filter((id): id is string => typeof id === 'string'));
  }
}
