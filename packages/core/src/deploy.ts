// `prevu up`, the path in DESIGN.md: a list of steps the CLI renders (listr2) or runs plainly
// (--json); each step may report progress lines, and the deploy emits events (build_registered ...
// url_assigned) through `onEvent`. What commands do with an env that exists: environments.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClient, type AgentTunnel } from './agent-client.js';
import { AGENT_IMAGE, imageBuild } from './artifacts.js';
import { checkForUp, isIdentity, loadComposeProject, rewritePaths, uploadPlan, type ComposeSource, type LoadedProject } from './compose.js';
import { checkDocker, dockerExec, InterruptedError, networkId } from './docker-cli.js';
import type { DockerEndpoint, Driver, Machine } from './drivers/driver.js';
import { createDriver } from './drivers/index.js';
import { agentKeyRegistration, ensureAgentKey } from './agent-key.js';
import { ensureEmbeddedServer, embeddedSettings, embeddedStatus } from './embedded-server.js';
import { resolveEnvId } from './env-id.js';
import { EnvStateStore } from './env-state.js';
import { errors, isPrevuError, PrevuError } from './errors.js';
import { makeEvent, type PrevuEvent } from './events.js';
import { AGENT_SERVICE, composeProjectName } from './names.js';
import { buildOverlay, discoveryEnv, expectedUrls, parseBaseUrl, type AgentSettings, type ExpectedUrl, type ImagePorts } from './overlay.js';
import type { AccountKey, Profile, ProfileStore } from './profiles.js';
import { pinFingerprint } from './ssh-fingerprint.js';
import { tunnelExec, tunnelHello, type HelloOptions } from './tunnel-hello.js';

export interface Session {
  store: ProfileStore;
  profile: Profile;
  key: AccountKey;
  signal?: AbortSignal;
  onEvent?: (event: PrevuEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface UpOptions {
  source: ComposeSource;
  id?: string;
  /** Deploy only these services (and the agent). */
  services?: string[];
  build?: boolean;
  /** Seconds compose waits for services to be running/healthy, and prevu for their URLs. */
  waitTimeout?: number;
}

export interface UrlRow {
  service: string;
  port: number;
  url: string;
  health: string;
}

export interface UpResult {
  envId: string;
  project: string;
  profile: string;
  driver: string;
  urls: UrlRow[];
}

export interface Step<C> {
  title: string | ((ctx: C) => string);
  run(ctx: C, report: (line: string) => void): Promise<void>;
}

interface TunnelEndpoint {
  /** Where the CLI reaches the SSH port, and where the agent does. */
  address: string;
  agentAddress: string;
  hostKey?: string;
  externalNetworks: string[];
}

/** Starts the embedded server when the profile uses it; checks the server answers `hello`. */
export async function connectTunnelServer(session: Session, envId: string, report: (line: string) => void = () => {}) {
  const ts = session.profile.tunnelServer;
  let endpoint: TunnelEndpoint;
  if (ts.type === 'embedded') {
    const settings = await ensureEmbeddedServer(embeddedSettings(session.env), report);
    endpoint = { address: `127.0.0.1:${settings.sshPort}`, agentAddress: `${settings.container}:${settings.sshPort}`, externalNetworks: [settings.network] };
  } else {
    endpoint = { address: ts.address, agentAddress: ts.agentAddress ?? ts.address, ...(ts.hostKey ? { hostKey: ts.hostKey } : {}), externalNetworks: [] };
  }
  report(`hello ${endpoint.address}`);
  const hello = await tunnelHello(tunnelExecOptions(session, envId, endpoint));
  if (ts.type === 'remote' && !ts.hostKey) {
    // first contact: record the server's key, later connections (and the agent) check it
    session.store.write({ ...session.profile, tunnelServer: { ...ts, hostKey: hello.hostKey } });
    endpoint.hostKey = hello.hostKey;
  }
  if (hello.accountId !== session.key.accountId) {
    throw new PrevuError('PREVU_ACCOUNT_MISMATCH', `the tunnel server derived account ${hello.accountId} from the key, prevu ${session.key.accountId}`, 'update prevu or the tunnel server so their names module matches', 'environment');
  }
  return { endpoint, hello };
}

/** How the CLI runs a command on the tunnel server as the account, for one env. */
export function tunnelExecOptions(session: Session, envId: string, endpoint: Pick<TunnelEndpoint, 'address' | 'hostKey'>): HelloOptions {
  const ts = session.profile.tunnelServer;
  return {
    address: endpoint.address,
    privateKey: session.key.privateKey,
    envId,
    recordedIn: join(session.store.profileDir(session.profile.name), 'profile.json'),
    ...(endpoint.hostKey ? { hostKey: endpoint.hostKey } : {}),
    ...(ts.type === 'remote' && ts.hostKeyPinned ? { hostKeyPinned: true } : {}),
  };
}

/**
 * `down`: the env's agent key stops opening the account's tunnels. Best effort (a server that is
 * not running or does not answer must never keep `down` from removing the env); an embedded server
 * that is stopped is not started for it.
 */
export async function revokeAgentKey(session: Session, envId: string): Promise<void> {
  const ts = session.profile.tunnelServer;
  let endpoint: Pick<TunnelEndpoint, 'address' | 'hostKey'>;
  if (ts.type === 'embedded') {
    const state = await embeddedStatus(embeddedSettings(session.env)).catch(() => undefined);
    if (!state?.running) return;
    endpoint = { address: `127.0.0.1:${state.settings.sshPort}` };
  } else {
    endpoint = { address: ts.address, ...(ts.hostKey ? { hostKey: ts.hostKey } : {}) };
  }
  await tunnelExec({ ...tunnelExecOptions(session, envId, endpoint), timeoutMs: 5000 }, 'agent-key-revoke').catch(() => undefined);
}

class UpContext {
  loaded!: LoadedProject;
  envId!: string;
  project!: string;
  endpoint!: TunnelEndpoint;
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
  result?: UpResult;
  constructor(
    readonly session: Session,
    readonly options: UpOptions,
    readonly states: EnvStateStore,
  ) {}

  emit(type: PrevuEvent['type'], service?: string, details: Record<string, unknown> = {}) {
    this.session.onEvent?.(makeEvent(type, this.envId, service, details));
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

  selected(): string[] | undefined {
    return this.options.services?.length ? this.options.services : undefined;
  }
}

export function upSteps(): Step<UpContext>[] {
  return [
    {
      title: 'Read the compose project',
      async run(ctx) {
        ctx.loaded = await loadComposeProject(ctx.options.source);
        checkForUp(ctx.loaded.model);
        for (const s of ctx.options.services ?? []) {
          if (!ctx.loaded.model.services[s]) {
            throw errors.invalidInput(`no service "${s}" in the compose project`, `choose from: ${Object.keys(ctx.loaded.model.services).join(', ')}`);
          }
        }
        ctx.envId = await resolveEnvId({ ...(ctx.options.id !== undefined ? { id: ctx.options.id } : {}), project: ctx.loaded.model.name, dir: ctx.options.source.cwd, ...(ctx.session.env ? { env: ctx.session.env } : {}) });
        ctx.project = composeProjectName(ctx.envId);
      },
    },
    {
      title: (ctx) => (ctx.session.profile.tunnelServer.type === 'embedded' ? 'Start the embedded tunnel server' : 'Connect to the tunnel server'),
      async run(ctx, report) {
        const { endpoint, hello } = await connectTunnelServer(ctx.session, ctx.envId, report);
        ctx.endpoint = endpoint;
        ctx.baseUrl = hello.baseUrl;
      },
    },
    {
      title: (ctx) => `Prepare the machine (${ctx.session.profile.driver})`,
      async run(ctx, report) {
        const { session, loaded } = ctx;
        // Written before anything is made: from here on the env is listed (`ls`) and `down`
        // removes it, whatever stops the rest (Ctrl-C, a crash, a failing build).
        ctx.states.write({
          envId: ctx.envId,
          profile: session.profile.name,
          driver: session.profile.driver,
          project: ctx.project,
          source: { name: loaded.model.name, dir: ctx.options.source.cwd, files: loaded.files, args: loaded.args },
          ...(ctx.selected() ? { services: ctx.selected() } : {}),
          accountId: session.key.accountId,
          baseUrl: ctx.baseUrl,
          status: 'deploying',
        });
        ctx.driver = await createDriver({ profile: session.profile, profileDir: session.store.profileDir(session.profile.name), key: session.key, onProgress: report });
        ctx.machine = await ctx.driver.ensureMachine(ctx.envId, ctx.session.signal);
        ctx.dockerEndpoint = await ctx.machine.docker();
        const version = await checkDocker(ctx.dockerEnv());
        report(`engine ${version.engine}, compose ${version.compose}`);
        // The agent reaches the embedded server over this engine's network `prevu`: only a machine
        // whose Docker is this engine (an ssh host that is this machine, say) can use it, and only
        // this engine knows that network by this ID.
        if (session.profile.tunnelServer.type === 'embedded' && session.profile.driver !== 'local') {
          const network = ctx.endpoint.externalNetworks[0]!;
          const here = await networkId(network);
          if (!here || (await networkId(network, ctx.dockerEnv())) !== here) throw errors.embeddedServerUnreachable(session.profile.driver);
        }
      },
    },
    {
      title: 'Upload the project files',
      async run(ctx, report) {
        const { session, loaded } = ctx;
        const agentBuild = imageBuild(AGENT_IMAGE);
        const plan = uploadPlan(loaded.model, ctx.selected());
        // The agent logs in with the env's own key, which the account authorizes on the server
        // now: the account key itself never goes to the machine.
        const agentKey = ensureAgentKey(ctx.states.dir(ctx.envId));
        await tunnelExec(tunnelExecOptions(session, ctx.envId, ctx.endpoint), 'agent-key', JSON.stringify(agentKeyRegistration(agentKey, session.key.accountId, ctx.envId)));
        const uploaded = await ctx.machine.upload({ ...plan, paths: [...plan.paths, agentKey.file] }, session.signal);
        if (uploaded.filesSent || uploaded.filesUnchanged) report(`${uploaded.filesSent} sent, ${uploaded.filesUnchanged} unchanged`);
        const dir = ctx.states.dir(ctx.envId);
        ctx.agent = {
          // read here by the compose CLI and streamed to the engine, like every build context
          buildContext: agentBuild.context,
          image: agentBuild.image,
          tunnelServer: ctx.endpoint.agentAddress,
          ...(ctx.endpoint.hostKey ? { tunnelHostKey: pinFingerprint(ctx.endpoint.hostKey) } : {}),
          keyFile: uploaded.mapping.get(agentKey.file) ?? agentKey.file,
          private: session.profile.private,
          externalNetworks: ctx.endpoint.externalNetworks,
          // the key's fingerprint too: compose recreates the agent when the key changes (a secret's
          // file content is not part of the service's config)
          labels: { 'dev.prevu.env-id': ctx.envId, 'dev.prevu.profile': session.profile.name, 'dev.prevu.account': session.key.accountId, 'dev.prevu.agent-key': pinFingerprint(agentKey.publicKey) },
        };
        const overlayFile = ctx.writeOverlay();
        if (isIdentity(uploaded.mapping)) {
          // compose reads the user's files as they are (relative paths, .env, profiles intact)
          ctx.composeArgs = ['-p', ctx.project, ...withFiles(loaded), '-f', overlayFile];
        } else {
          // the resolved model is what the machine gets: resolve it again with the URL variables
          const resolved = await loadComposeProject({ ...ctx.options.source, env: { ...ctx.options.source.env, ...ctx.discovery } }, ctx.project);
          const modelFile = join(dir, 'compose.json');
          writeFileSync(modelFile, JSON.stringify(rewritePaths(resolved.model, uploaded.mapping), null, 2));
          ctx.composeArgs = ['-p', ctx.project, '--project-directory', dir, '-f', modelFile, '-f', overlayFile];
        }
        for (const [name, service] of Object.entries(loaded.model.services)) {
          if (service.build && (!ctx.selected() || ctx.selected()!.includes(name))) ctx.emit('build_registered', name, { context: service.build.context });
        }
      },
    },
    {
      title: 'Build images',
      async run(ctx, report) {
        const build = ctx.options.build !== false;
        const selected = ctx.selected();
        // a subset also needs the images of what it depends on; --no-build still builds the agent
        const targets = !build ? [AGENT_SERVICE] : selected ? ['--with-dependencies', ...selected, AGENT_SERVICE] : [];
        const built = Object.entries(ctx.loaded.model.services).filter(([n, s]) => s.build && (!selected || selected.includes(n))).map(([n]) => n);
        await compose(ctx, ['build', ...targets], report);
        if (build) for (const name of built) ctx.emit('image_built', name);
        // the agent also gives URLs to ports the images EXPOSE: so do the URL variables
        ctx.imagePorts = await imagePorts(ctx);
        ctx.writeOverlay();
      },
    },
    {
      title: 'Start the services',
      async run(ctx, report) {
        const wait = ctx.options.waitTimeout ? ['--wait-timeout', String(ctx.options.waitTimeout)] : [];
        const services = ctx.selected() ? [...ctx.selected()!, AGENT_SERVICE] : [];
        const seen = new Set<string>();
        const prefix = `${ctx.project}-`;
        await compose(ctx, ['up', '-d', '--no-build', '--wait', ...wait, '--remove-orphans', ...services], (line) => {
          report(line);
          const m = /Container (\S+)\s+(Created|Recreated|Started|Running|Healthy)\b/.exec(line);
          if (!m || !m[1]!.startsWith(prefix)) return;
          const service = m[1]!.slice(prefix.length).replace(/-\d+$/, '');
          if (service === AGENT_SERVICE) return;
          const type = m[2] === 'Healthy' ? 'healthy' : m[2] === 'Started' || m[2] === 'Running' ? 'starting' : 'container_allocated';
          if (seen.has(`${service}:${type}`)) return;
          seen.add(`${service}:${type}`);
          ctx.emit(type, service, { container: m[1] });
        }).catch(async (error: unknown) => {
          // compose's --wait-timeout ran out: a timeout like the URLs' own, naming the services
          // compose does not name
          if (!isPrevuError(error) || !/not healthy after/.test(error.message)) throw error;
          throw waitTimedOut(ctx, await stillStarting(ctx), error.message);
        });
        // Under load compose's wait has also ended at its deadline with success while a service
        // was still starting (seen 2 times in about 12 runs): the same timeout.
        const starting = (await stillStarting(ctx)).filter((s) => !ctx.selected() || ctx.selected()!.includes(s));
        if (starting.length) throw waitTimedOut(ctx, starting, '');
      },
    },
    {
      title: 'Open the URLs',
      async run(ctx, report) {
        const client = new AgentClient({ envId: ctx.envId, accountId: ctx.session.key.accountId, baseUrl: ctx.baseUrl, privateKey: ctx.session.key.privateKey });
        const timeoutMs = (ctx.options.waitTimeout ?? 120) * 1000;
        const tunnels = await waitForUrls(client, ctx.envId, ctx.expected, timeoutMs, report, ctx.session.signal);
        const rows = urlRows(tunnels, ctx.selected());
        for (const row of rows) ctx.emit('url_assigned', row.service, { port: row.port, url: row.url });
        ctx.states.setStatus(ctx.envId, 'up');
        ctx.result = { envId: ctx.envId, project: ctx.project, profile: ctx.session.profile.name, driver: ctx.session.profile.driver, urls: rows };
      },
    },
  ];
}

function withFiles(loaded: LoadedProject): string[] {
  // `-f overlay` turns compose's default file lookup off: name the files it would have found.
  return loaded.args.includes('-f') ? loaded.args : [...loaded.files.flatMap((f) => ['-f', f]), ...loaded.args];
}

async function compose(ctx: UpContext, args: string[], report: (line: string) => void): Promise<void> {
  const result = await dockerExec(['compose', '--progress', 'plain', ...ctx.composeArgs, ...args], {
    cwd: ctx.options.source.cwd,
    env: { ...ctx.options.source.env, ...ctx.discovery, ...ctx.dockerEnv() },
    ...(ctx.session.signal ? { signal: ctx.session.signal } : {}),
    onStderrLine: report,
  });
  if (result.code !== 0) {
    const lines = result.stderr.trim().split('\n').filter(Boolean);
    const detail = lines.filter((l) => /error|failed|unhealthy|exited/i.test(l)).pop() ?? lines.pop() ?? `exit ${result.code}`;
    const down = `\`prevu down --id ${ctx.envId}\` removes the env`;
    // a failed build made no container: `prevu logs` would have nothing to show
    const fix = args[0] === 'build' ? `fix the build (\`prevu up --debug\` shows its output); ${down}` : `see \`prevu logs --id ${ctx.envId}\`; ${down}`;
    throw errors.composeFailed(args[0]!, ctx.project, detail.trim(), fix);
  }
}

function waitTimedOut(ctx: UpContext, starting: string[], detail: string): PrevuError {
  return errors.timeout(
    `the services were not healthy after ${ctx.options.waitTimeout} s (${starting.length ? `still starting: ${starting.join(', ')}` : detail})`,
    `raise --wait-timeout for slow services, or see \`prevu logs --id ${ctx.envId}\`; \`prevu down --id ${ctx.envId}\` removes the env`,
  );
}

/** Services of the env whose healthcheck has not passed or failed yet. */
async function stillStarting(ctx: UpContext): Promise<string[]> {
  const r = await dockerExec(['ps', '--filter', `label=com.docker.compose.project=${ctx.project}`, '--filter', 'health=starting', '--format', '{{.Label "com.docker.compose.service"}}'], { env: ctx.dockerEnv() });
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean).sort() : [];
}

/** EXPOSE ports of the services' images on the machine (built ones are `<project>-<service>`). */
async function imagePorts(ctx: UpContext): Promise<ImagePorts> {
  const entries = await Promise.all(
    Object.entries(ctx.loaded.model.services).map(async ([name, service]) => {
      const image = service.image ?? `${ctx.project}-${name}`;
      // an image compose has yet to pull is not known here; the agent still sees it later
      const r = await dockerExec(['image', 'inspect', '--format', '{{json .Config.ExposedPorts}}', image], { env: ctx.dockerEnv() });
      const exposed = r.code === 0 ? (JSON.parse(r.stdout.trim() || 'null') as Record<string, unknown> | null) : null;
      const ports = Object.keys(exposed ?? {})
        .map((k) => /^(\d+)(?:\/tcp)?$/.exec(k)?.[1])
        .filter((p): p is string => p !== undefined)
        .map(Number);
      return [name, ports] as const;
    }),
  );
  return Object.fromEntries(entries);
}

export function urlRows(tunnels: AgentTunnel[], services?: string[]): UrlRow[] {
  return tunnels
    .filter((t) => t.service !== AGENT_SERVICE && t.url && (!services || services.includes(t.service)))
    .map((t) => ({ service: t.service, port: t.port, url: t.url!, health: t.state }))
    .sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port);
}

export async function waitForUrls(client: Pick<AgentClient, 'tunnels'>, envId: string, expected: ExpectedUrl[], timeoutMs: number, report: (line: string) => void, signal?: AbortSignal): Promise<AgentTunnel[]> {
  const deadline = Date.now() + timeoutMs;
  let last = 'the agent is not connected yet';
  for (;;) {
    if (signal?.aborted) throw new InterruptedError();
    const tunnels = await client.tunnels(signal).catch((error: Error) => {
      if (isPrevuError(error) && error.code === 'PREVU_BASE_DOMAIN_UNRESOLVED') throw error;
      last = error.message;
      return undefined;
    });
    if (tunnels) {
      const missing = expected.filter((e) => !tunnels.some((t) => t.service === e.service && t.port === e.port && t.url && t.state === 'ready'));
      if (!missing.length) return tunnels;
      // Waiting cannot help a refused forward: its hostname belongs to another env (or key).
      const refused = tunnels.find((t) => t.refused && missing.some((m) => m.service === t.service && m.port === t.port));
      if (refused?.refused) throw errors.forwardRefused(refused.service, refused.port, envId, refused.refused.reason, refused.refused.heldByEnv);
      // The agent's reason names what a port listens on instead, when it knows.
      const why = (m: ExpectedUrl) => tunnels.find((t) => t.service === m.service && t.port === m.port)?.reason;
      last = `waiting for ${missing.map((m) => `${m.service}:${m.port}${why(m) ? ` (${why(m)})` : ''}`).join(', ')}`;
    }
    report(last);
    if (Date.now() > deadline) throw errors.timeout(`the URLs were not ready after ${Math.round(timeoutMs / 1000)} s (${last})`, 'see `prevu status` and `prevu logs`; raise --wait-timeout for slow services');
    await sleep(200, undefined, signal ? { signal } : undefined).catch(() => undefined);
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
  if (failed && ctx.envId && ctx.states.read(ctx.envId)) {
    if (failed instanceof InterruptedError) ctx.states.setStatus(ctx.envId, 'interrupted');
    else ctx.states.setStatus(ctx.envId, 'failed', isPrevuError(failed) ? { code: failed.code, line: failed.line } : { code: 'PREVU_UNEXPECTED', line: String((failed as Error)?.message ?? failed) });
  }
  await ctx.dockerEndpoint?.close().catch(() => undefined);
  await ctx.driver?.close().catch(() => undefined);
}

export type { UpContext };
