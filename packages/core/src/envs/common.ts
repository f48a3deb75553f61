// What every command on an existing env needs: which env it means, its recorded state, its
// agent (through the tunnel server, no SSH), and its machine when the agent cannot answer.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../agent-client.js';
import { loadComposeProject, type ComposeSource } from '../compose.js';
import { docker } from '../docker-cli.js';
import type { DockerEndpoint, Driver, Machine } from '../drivers/driver.js';
import { createDriver } from '../drivers/index.js';
import { resolveEnvId } from '../env-id.js';
import { EnvStateStore, type EnvState } from '../env-state.js';
import { errors } from '../errors.js';
import { profileCa, type Session } from '../session.js';

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
export function neutralDir(): string {
  const dir = join(tmpdir(), 'prevu-compose-cwd');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function driverOf(session: Session): Promise<Driver> {
  return createDriver({ profile: session.profile, profileDir: session.store.profileDir(session.profile.name), key: session.key });
}

/** Runs `fn` with the env's machine (if any) and its Docker endpoint; one driver for the whole command. */
export async function withMachine<T>(session: Session, envId: string, fn: (env: Record<string, string>, machine: Machine | undefined, driver: Driver) => Promise<T>): Promise<T> {
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

export async function projectContainers(env: Record<string, string>, project: string): Promise<ServiceRow[]> {
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

export async function readState(session: Session, envId: string): Promise<EnvState> {
  const state = await new EnvStateStore(session.store, session.profile.name).read(envId);
  if (!state) throw errors.unknownEnv(envId);
  return state;
}

export function agentFor(session: Session, envId: string, state: Pick<EnvState, 'accountId' | 'baseUrl'>): AgentClient {
  const ca = profileCa(session.profile);
  return new AgentClient({ envId, accountId: state.accountId, baseUrl: state.baseUrl, privateKey: session.key.privateKey, ...(ca ? { ca } : {}) });
}
