// What `prevu up` knows as it goes: the options, the session, and what each step found (the
// project, the tunnel server, the machine, the compose files); the steps are in this folder, one
// per file, in the order index.ts gives them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComposeSource, LoadedProject } from '../compose.js';
import type { ComposeRun } from '../compose-runner.js';
import { InterruptedError } from '../docker-cli.js';
import type { DockerEndpoint, Driver, Machine } from '../drivers/driver.js';
import type { LifecycleSettings } from '../durations.js';
import type { DownResult } from '../envs/down.js';
import type { MissingVariable } from '../env-scan.js';
import { EnvStateStore, type EnvState } from '../env-state.js';
import { errors, isPrevuError } from '../errors.js';
import { makeEvent, type PrevuEvent } from '../events.js';
import { buildOverlay, discoveryEnv, expectedUrls, type AgentSettings, type ExpectedUrl, type ImagePorts } from '../overlay.js';
import { parseBaseUrl } from '../urls.js';
import type { Session, TunnelEndpoint } from '../session.js';
import type { TunnelServerClient } from '../tunnel-server-client.js';
import type { UrlRow } from '../url-rows.js';

export interface UpOptions {
  source: ComposeSource;
  id?: string;
  /** Deploy only these services (and the agent). */
  services?: string[];
  build?: boolean;
  /** A variable the project expects and this run does not set stops `up` (else: a warning). */
  strictEnv?: boolean;
  /** Seconds compose waits for services to be running/healthy, and prevu for their URLs. */
  waitTimeout?: number;
  /** TTL, sleep and pin (durations.ts resolveLifecycle); absent: no TTL, no sleep, not pinned. */
  lifecycle?: LifecycleSettings;
  /** A new env beyond the profile's maxEnvs removes the oldest instead of being refused. */
  replaceOldest?: boolean;
}

export interface UpResult {
  envId: string;
  project: string;
  profile: string;
  driver: string;
  urls: UrlRow[];
  /** Variables the project expects and this run did not set (deployed anyway, without --strict-env). */
  missingEnv: MissingVariable[];
}

export interface Step<C> {
  title: string | ((ctx: C) => string);
  run(ctx: C, report: (line: string) => void): Promise<void>;
}

export interface Step<C> {
  title: string | ((ctx: C) => string);
  run(ctx: C, report: (line: string) => void): Promise<void>;
}

export class UpContext {
  loaded!: LoadedProject;
  envId!: string;
  project!: string;
  endpoint!: TunnelEndpoint;
  /** The account's connection to the tunnel server, open from `hello` to the agent key's registration. */
  tunnel?: TunnelServerClient;
  baseUrl!: string;
  driver!: Driver;
  machine!: Machine;
  dockerEndpoint?: DockerEndpoint;
  composeArgs!: string[];
  agent!: AgentSettings;
  imagePorts: ImagePorts = {};
  expected: ExpectedUrl[] = [];
  /** PREVU_ENV_ID and PREVU_URL_*: in every service's environment, and for compose interpolation. */
  discovery: Record<string, string> = {};
  /** TTL, pin and sleep as recorded in the env's state (set by the machine step). */
  lifecycle?: NonNullable<EnvState['lifecycle']>;
  result?: UpResult;
  /** Envs removed to make room for this one (--replace-oldest). */
  replaced: DownResult[] = [];
  /** One line each, printed after the URL table: deployed, but the user should know. */
  warnings: string[] = [];
  constructor(
    readonly session: Session,
    readonly options: UpOptions,
    readonly states: EnvStateStore,
  ) {}

  emit(type: PrevuEvent['type'], service?: string, details: Record<string, unknown> = {}) {
    this.session.onEvent?.(makeEvent(type, this.envId, service, details));
  }

  /**
   * The env's lifecycle as this `up` sets it: the TTL counts from now (a new `up` restarts it); a
   * pin (`--pin`, or `prevu pin` before) stays until `prevu unpin`, so a redeploy never drops it.
   */
  async lifecycleState(now = Date.now()): Promise<NonNullable<EnvState['lifecycle']>> {
    const { ttlSeconds = null, sleepAfterSeconds = 0, pinned = false } = this.options.lifecycle ?? {};
    const wasPinned = (await this.states.read(this.envId))?.lifecycle?.pinned ?? false;
    return { expiresAt: ttlSeconds === null ? null : new Date(now + ttlSeconds * 1000).toISOString(), pinned: pinned || wasPinned, sleepAfterSeconds };
  }

  dockerEnv(): Record<string, string> {
    return this.dockerEndpoint?.env ?? {};
  }

  /** (Re)writes overlay.json from what is known now, and the URLs the deploy waits for. */
  writeOverlay(): string {
    const base = parseBaseUrl(this.baseUrl);
    const accountId = this.session.key.accountId;
    this.expected = expectedUrls(this.loaded.model, base, this.envId, accountId, this.selected(), this.imagePorts);
    this.discovery = discoveryEnv(this.loaded.model, { envId: this.envId, accountId, base, imagePorts: this.imagePorts });
    const overlay = buildOverlay(this.loaded.model, { envId: this.envId, accountId, base, agent: this.agent, imagePorts: this.imagePorts });
    const file = join(this.states.dir(this.envId), 'overlay.json');
    writeFileSync(file, JSON.stringify(overlay, null, 2));
    return file;
  }

  /** How compose runs for this env (after the upload step set the files). */
  compose(): ComposeRun {
    return {
      envId: this.envId,
      project: this.project,
      args: this.composeArgs,
      cwd: this.options.source.cwd,
      env: { ...this.options.source.env, ...this.discovery, ...this.dockerEnv() },
      ...(this.session.signal ? { signal: this.session.signal } : {}),
    };
  }

  selected(): string[] | undefined {
    return this.options.services?.length ? this.options.services : undefined;
  }
}

/** Runs the steps in order without a renderer (--json, tests). */
export async function runSteps<C>(steps: Step<C>[], ctx: C, report: (step: string, line: string) => void = () => {}, onStep?: (title: string) => void): Promise<void> {
  for (const step of steps) {
    const title = typeof step.title === 'function' ? step.title(ctx) : step.title;
    onStep?.(title);
    await step.run(ctx, (line) => report(title, line));
  }
}

export function newUpContext(session: Session, options: UpOptions): UpContext {
  return new UpContext(session, options, new EnvStateStore(session.store, session.profile.name));
}

export async function closeContext(ctx: UpContext, failed?: unknown): Promise<void> {
  if (failed && ctx.envId) {
    // the failure is what the user must see: a store that cannot take the status does not hide it
    if (failed instanceof InterruptedError) await ctx.states.setStatus(ctx.envId, 'interrupted').catch(() => undefined);
    else await ctx.states.setStatus(ctx.envId, 'failed', isPrevuError(failed) ? { code: failed.code, line: failed.line } : { code: errors.unexpected.code, line: String((failed as Error)?.message ?? failed) }).catch(() => undefined);
  }
  ctx.tunnel?.close();
  await ctx.dockerEndpoint?.close().catch(() => undefined);
  await ctx.driver?.close().catch(() => undefined);
}

