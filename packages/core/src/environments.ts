// What commands do with an env that exists: find it (`targetEnvId`), list, urls, status, logs,
// and remove it (`down`). The path that makes one is deploy.ts.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { hashPassword, MIN_PASSWORD_LENGTH, signAccessToken } from './access-token.js';
import { AGENT_MAX_TAIL, AgentClient } from './agent-client.js';
import { loadComposeProject, type ComposeSource } from './compose.js';
import { connectTunnelServer, revokeAgentKey, tunnelExecOptions, urlRows, type Session, type UrlRow } from './deploy.js';
import { docker, dockerExec } from './docker-cli.js';
import type { DockerEndpoint, Driver, Machine, MachineRecord } from './drivers/driver.js';
import { createDriver } from './drivers/index.js';
import { resolveEnvId } from './env-id.js';
import { EnvStateStore, type EnvState } from './env-state.js';
import { errors } from './errors.js';
import { makeEvent, type PrevuEvent } from './events.js';
import { AGENT_SERVICE, composeProjectName } from './names.js';
import { tunnelExec } from './tunnel-hello.js';

/** The envId a command means: --id, else the one `up` would compute in this directory. */
export async function targetEnvId(options: { id?: string; source: ComposeSource; env?: NodeJS.ProcessEnv }): Promise<string> {
  if (options.id !== undefined) return resolveEnvId({ id: options.id, project: '', dir: options.source.cwd });
  const loaded = await loadComposeProject(options.source);
  return resolveEnvId({ project: loaded.model.name, dir: options.source.cwd, ...(options.env ? { env: options.env } : {}) });
}

/**
 * A directory without a compose file: compose run there with only `-p` finds the project by its
 * labels (down removes its networks too), whatever files the user has changed since `up`.
 */
function neutralDir(): string {
  const dir = join(tmpdir(), 'prevu-compose-cwd');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function driverOf(session: Session): Promise<Driver> {
  return createDriver({ profile: session.profile, profileDir: session.store.profileDir(session.profile.name), key: session.key });
}

/** Runs `fn` with the env's machine (if any) and its Docker endpoint; one driver for the whole command. */
async function withMachine<T>(session: Session, envId: string, fn: (env: Record<string, string>, machine: Machine | undefined, driver: Driver) => Promise<T>): Promise<T> {
  const driver = await driverOf(session);
  let endpoint: DockerEndpoint | undefined;
  try {
    const machine = await driver.findMachine(envId);
    endpoint = machine ? await machine.docker() : undefined;
    return await fn(endpoint?.env ?? {}, machine, driver);
  } finally {
    await endpoint?.close().catch(() => undefined);
    await driver.close().catch(() => undefined);
  }
}

/** Containers of the env's compose project on its machine (all states). */
export interface ServiceRow {
  service: string;
  state: string;
  /** healthy, unhealthy, starting; '' without a healthcheck */
  health: string;
  /** From the agent, when the service is not ready: why, and what to do. */
  cause?: string;
  fix?: string;
}

async function projectContainers(env: Record<string, string>, project: string): Promise<ServiceRow[]> {
  const out = await docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{json .}}'], { env });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { Labels: string; State: string; Status: string })
    .map((c) => {
      const service = /(?:^|,)com\.docker\.compose\.service=([^,]+)/.exec(c.Labels)?.[1] ?? '?';
      const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace('health: ', '') ?? '';
      return { service, state: c.State, health };
    });
}

export interface DownResult {
  envId: string;
  project: string;
  removed: boolean;
}

/** Removes the env: compose down on its machine, the machine when the driver made it, its state. */
export async function down(session: Session, envId: string, options: { volumes?: boolean } = {}): Promise<DownResult> {
  const states = new EnvStateStore(session.store, session.profile.name);
  const state = states.read(envId);
  const project = composeProjectName(envId);
  await withMachine(session, envId, async (env, machine, driver) => {
    const found = machine ? (await projectContainers(env, project)).length > 0 : false;
    if (!found && !state) throw errors.unknownEnv(envId);
    if (found || machine) {
      await docker(['compose', '-p', project, 'down', '--remove-orphans', '--timeout', '5', ...(options.volumes ? ['--volumes'] : [])], { env, cwd: neutralDir() });
    }
    await driver.remove(envId);
  });
  await revokeAgentKey(session, envId);
  states.remove(envId);
  session.onEvent?.(makeEvent('stopped', envId, undefined, { project }));
  return { envId, project, removed: true };
}

export interface EnvListing {
  envId: string;
  profile: string;
  driver: string;
  project: string;
  status: string;
  services: string;
  dir?: string;
  updatedAt?: string;
  /** The env's machine as its driver lists it (lightsail: the instance), when the driver made one. */
  machine?: { state: string; host?: string; createdAt?: string };
}

/** Envs of the profile: state files, machines the driver made, and local compose projects labeled with the profile. */
export async function list(session: Session): Promise<EnvListing[]> {
  const states = new EnvStateStore(session.store, session.profile.name);
  const found = new Map<string, EnvState | undefined>(states.list().map((s) => [s.envId, s]));
  // What the driver knows of each env's machine (a cloud instance's state and age).
  const machines = new Map<string, MachineRecord>();
  const driver = await driverOf(session);
  try {
    for (const m of await driver.list()) {
      machines.set(m.envId, m);
      if (!found.has(m.envId)) found.set(m.envId, undefined);
    }
  } finally {
    await driver.close().catch(() => undefined);
  }
  if (session.profile.driver === 'local') {
    // profile names repeat across machines' users: the account (the key) tells envs apart
    const out = await docker(['ps', '-a', '--filter', `label=dev.prevu.profile=${session.profile.name}`, '--filter', `label=dev.prevu.account=${session.key.accountId}`, '--format', '{{.Label "dev.prevu.env-id"}}']);
    for (const envId of out.split('\n').filter(Boolean)) if (!found.has(envId)) found.set(envId, undefined);
  }
  const rows: EnvListing[] = [];
  for (const [envId, state] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
    const project = composeProjectName(envId);
    let services = '';
    if (session.profile.driver === 'local') {
      const containers = (await projectContainers({}, project)).filter((c) => c.service !== AGENT_SERVICE);
      services = `${containers.filter((c) => c.state === 'running').length}/${containers.length} running`;
    }
    rows.push({
      envId,
      profile: session.profile.name,
      driver: session.profile.driver,
      project,
      status: state?.status ?? 'unknown',
      services,
      ...(state ? { dir: state.source.dir, updatedAt: state.updatedAt } : {}),
      ...machineOf(machines.get(envId)),
    });
  }
  return rows;
}

function machineOf(m: MachineRecord | undefined): Pick<EnvListing, 'machine'> {
  if (!m) return {};
  return { machine: { state: m.state, ...(m.host ? { host: m.host } : {}), ...(m.createdAt ? { createdAt: m.createdAt.toISOString() } : {}) } };
}

function readState(session: Session, envId: string): EnvState {
  const state = new EnvStateStore(session.store, session.profile.name).read(envId);
  if (!state) throw errors.unknownEnv(envId);
  return state;
}

export function agentFor(session: Session, envId: string, state: EnvState = readState(session, envId)): AgentClient {
  return new AgentClient({ envId, accountId: state.accountId, baseUrl: state.baseUrl, privateKey: session.key.privateKey });
}

/** The env's URL table, from its agent. */
export async function urls(session: Session, envId: string): Promise<UrlRow[]> {
  const state = readState(session, envId);
  const tunnels = await agentFor(session, envId, state).tunnels();
  if (!tunnels) throw errors.timeout(`the agent of ${envId} does not answer through the tunnel server`, `see \`prevu status --id ${envId}\`; \`prevu up\` restarts it`);
  return urlRows(tunnels, state.services);
}

export interface SharedUrl extends UrlRow {
  /** Opens the URL in a browser: the tunnel server trades the token for an HttpOnly cookie. */
  share: string;
  expiresAt: string;
}

/** Share links: the URLs with a login token signed by the account key, for this env only. */
/**
 * Share links: a login URL per row with a token for this env only, never for its agent's API.
 * With a password, the tunnel server keeps its scrypt hash (registered over SSH as the account)
 * and the token carries only a random id: a link in the wrong hands cannot be guessed offline.
 */
export async function shareUrls(session: Session, envId: string, rows: UrlRow[], options: { ttlHours: number; password?: string }): Promise<SharedUrl[]> {
  const ttlSeconds = options.ttlHours * 3600;
  const { password } = options;
  let passwordId: string | undefined;
  if (password !== undefined) {
    if (!session.profile.private) {
      throw errors.invalidInput(`profile "${session.profile.name}" is public: its URLs open without a password`, 'make the environment private (`prevu profile create <name> --private`), or share without --password');
    }
    if (password.length < MIN_PASSWORD_LENGTH) throw errors.invalidInput(`a share password needs at least ${MIN_PASSWORD_LENGTH} characters`, 'choose a longer one');
    passwordId = randomBytes(18).toString('base64url');
    const record = await hashPassword(password);
    const { endpoint } = await connectTunnelServer(session, envId);
    const address = endpoint.address;
    const { stdout } = await tunnelExec(
      tunnelExecOptions(session, envId, endpoint),
      'share-password',
      JSON.stringify({ id: passwordId, ...record, expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds }),
    );
    if (stdout.trim() !== '{"ok":true}') throw errors.tunnelCommandFailed(address, 'share-password', `it answered ${JSON.stringify(stdout.slice(0, 80))}`);
  }
  const token = await signAccessToken({ privateKey: session.key.privateKey, envId, ttlSeconds, share: true, ...(passwordId ? { passwordId } : {}) });
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
  return rows.map((row) => {
    const share = new URL('/_prevu/login', row.url);
    share.searchParams.set('token', token);
    return { ...row, share: share.href, expiresAt };
  });
}

export interface StatusResult {
  envId: string;
  project: string;
  status: string;
  /** The last `up`'s one line, when it failed. */
  failure?: { code: string; line: string };
  services: ServiceRow[];
  urls: UrlRow[];
  agent: string;
  /** The agent's last events (unhealthy, crash_loop ... with their details). */
  events: PrevuEvent[];
}

export async function status(session: Session, envId: string): Promise<StatusResult> {
  const state = readState(session, envId);
  let services: ServiceRow[] | undefined;
  let rows: UrlRow[] = [];
  let events: PrevuEvent[] = [];
  let agent = 'connected';
  try {
    const client = agentFor(session, envId, state);
    const tunnels = await client.tunnels();
    if (tunnels) {
      rows = urlRows(tunnels, state.services);
      services = await client.services();
      events = await client.recentEvents();
    } else agent = 'not connected';
  } catch (error) {
    agent = `unreachable (${(error as Error).message})`;
  }
  // The agent answers without SSH to the machine; only when it does not is the machine asked.
  services ??= await withMachine(session, envId, (env) => projectContainers(env, state.project));
  const sorted = services.map(({ service, state, health, cause, fix }) => ({ service, state, health, ...(cause ? { cause, fix: fix ?? '' } : {}) })).sort((a, b) => a.service.localeCompare(b.service));
  return { envId, project: state.project, status: state.status, ...(state.failure ? { failure: state.failure } : {}), services: sorted, urls: rows, agent, events };
}

export interface LogsOptions {
  service?: string;
  follow?: boolean;
  tail?: number;
  onOutput: (chunk: string) => void;
}

/**
 * The env's logs (one service, or all with a `service | ` prefix), through its agent so no SSH to
 * the machine is needed; from the machine's compose when the agent does not answer. With
 * `follow`, until the session's signal aborts.
 */
export async function logs(session: Session, envId: string, options: LogsOptions): Promise<void> {
  const client = agentFor(session, envId);
  const running = await client.services().catch(() => undefined);
  if (!running) return machineLogs(session, envId, options);
  const names = [...new Set(running.map((r) => r.service))].sort();
  if (options.service && !names.includes(options.service)) {
    throw errors.invalidInput(`no service "${options.service}" in ${envId}`, `choose from: ${names.join(', ')}`);
  }
  const chosen = options.service ? [options.service] : names;
  const prefixed = chosen.length > 1;
  const streams = chosen.map(async (service) => {
    // Whole lines only, so that the lines of services streamed side by side never mix.
    let partial = '';
    const onText = (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (lines.length) options.onOutput(lines.map((l) => (prefixed ? `${service} | ${l}\n` : `${l}\n`)).join(''));
    };
    const status = await client
      .logs(service, { tail: options.tail ?? AGENT_MAX_TAIL, follow: options.follow ?? false, onText, ...(session.signal ? { signal: session.signal } : {}) })
      .catch((error: Error) => {
        // Ctrl-C ends `logs -f` as it ends every command (exit 130)
        throw session.signal?.aborted ? error : errors.tunnelServerUnreachable(client.url, error.message);
      });
    if (partial) options.onOutput(prefixed ? `${service} | ${partial}\n` : `${partial}\n`);
    if (status === 404) throw errors.invalidInput(`no service "${service}" in ${envId}`, `check \`prevu status --id ${envId}\``);
    // the agent went away between the two calls (reconnecting, restarted): not the user's doing
    if (status !== 200) throw errors.tunnelServerUnreachable(client.url, `the agent answered /logs/${service} with HTTP ${status}`);
  });
  await Promise.all(streams);
}

/** `docker compose logs` of the env on its machine (needs the driver: SSH for remote machines). */
async function machineLogs(session: Session, envId: string, options: LogsOptions): Promise<void> {
  const project = composeProjectName(envId);
  await withMachine(session, envId, async (env) => {
    const containers = await projectContainers(env, project);
    if (!containers.length) throw errors.unknownEnv(envId);
    if (options.service && !containers.some((c) => c.service === options.service)) {
      throw errors.invalidInput(`no service "${options.service}" in ${envId}`, `choose from: ${[...new Set(containers.map((c) => c.service))].join(', ')}`);
    }
    const args = [
      'compose', '--ansi', 'never', '-p', project, 'logs', '--no-color',
      ...(options.follow ? ['-f'] : []),
      ...(options.tail !== undefined ? ['--tail', String(options.tail)] : []),
      // the same shape as through the agent: a prefix only when several services mix
      ...(options.service ? ['--no-log-prefix', options.service] : []),
    ];
    // compose clears each log line with an ANSI sequence even without a terminal
    const result = await dockerExec(args, { env, cwd: neutralDir(), onStdout: (chunk) => options.onOutput(stripVTControlCharacters(chunk)), ...(session.signal ? { signal: session.signal } : {}) });
    if (result.code !== 0) throw errors.invalidInput(`docker compose logs failed (${result.stderr.trim().split('\n').pop()})`, 'check `prevu status`');
  });
}
