// `prevu expose`: a compose project the user already runs on this machine (`docker compose up
// -d`) gets URLs without a deploy: only the env's agent is started, as compose project
// prevu-<envId> beside it (overlay.ts `exposeCompose`: the user's networks, the same labels and
// URL rule), its key registered as `up` registers it. `--stop` is `down` of that project: the
// agent goes (its forwards cancelled, so URLs answer 404), its key is revoked, the user's
// containers are not touched. The user's services get no PREVU_URL_* (they are not redeployed).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from './agent-client.js';
import { agentKeyRegistration, ensureAgentKey } from './agent-key.js';
import { imagePorts, runCompose } from './compose-runner.js';
import { loadComposeProject, type ComposeSource } from './compose.js';
import { docker } from './docker-cli.js';
import { EnvStateStore } from './env-state.js';
import { down } from './envs/down.js';
import { driverOf, neutralDir } from './envs/common.js';
import { resolveEnvId } from './env-id.js';
import { errors } from './errors.js';
import { composeProjectName } from './names.js';
import { expectedUrls, exposeCompose } from './overlay.js';
import { connectTunnelServer, type Session } from './session.js';
import { waitForUrls } from './up/open-urls.js';
import { agentSettings } from './up/upload.js';
import { urlRows, type UrlRow } from './url-rows.js';
import { parseBaseUrl } from './urls.js';

export interface ExposeOptions {
  source: ComposeSource;
  id?: string;
  /** Seconds to wait for the URLs. */
  waitTimeout?: number;
}

export interface ExposeResult {
  envId: string;
  /** The user's compose project. */
  exposes: string;
  urls: UrlRow[];
}

/** The env id `expose` means: --id, else the one `up` would compute for this project. */
async function exposedEnv(session: Session, options: ExposeOptions) {
  const loaded = await loadComposeProject(options.source);
  const envId = await resolveEnvId({ ...(options.id !== undefined ? { id: options.id } : {}), project: loaded.model.name, dir: options.source.cwd, ...(session.env ? { env: session.env } : {}) });
  return { loaded, envId };
}

export async function expose(session: Session, options: ExposeOptions, report: (line: string) => void = () => {}): Promise<ExposeResult> {
  const driver = await driverOf(session);
  await driver.close();
  if (!driver.thisEngine) throw errors.exposeNeedsThisEngine(session.profile.name, session.profile.driver);
  const { loaded, envId } = await exposedEnv(session, options);
  const { model } = loaded;
  const running = await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${model.name}`]);
  if (!running.trim()) throw errors.exposeNotRunning(model.name);

  const states = new EnvStateStore(session.store, session.profile.name);
  // the agent's project is prevu-<envId>, the one `up` deploys into: never take an env `up` made
  const previous = await states.read(envId);
  if (previous && !previous.exposes) throw errors.exposeEnvTaken(envId);
  const { endpoint, hello, client } = await connectTunnelServer(session, envId, report);
  const project = composeProjectName(envId);
  // recorded before anything is made: `ls` lists it and `expose --stop` (or `down`) ends it from here on
  await states.write({ envId, profile: session.profile.name, driver: session.profile.driver, project, exposes: model.name, source: { dir: options.source.cwd }, accountId: session.key.accountId, baseUrl: hello.baseUrl, status: 'deploying' });
  const agentKey = ensureAgentKey(states.dir(envId));
  try {
    await client.exec('agent-key', JSON.stringify(agentKeyRegistration(agentKey, session.key.accountId, envId)));
  } finally {
    client.close();
  }
  const file = join(states.dir(envId), 'expose.json');
  writeFileSync(file, JSON.stringify(exposeCompose(model, { envId, agent: agentSettings(session, envId, endpoint, agentKey, agentKey.file) }), null, 2));
  const run = { envId, project, args: ['-p', project, '-f', file], cwd: neutralDir(), env: {}, ...(session.signal ? { signal: session.signal } : {}) };
  await runCompose(run, ['up', '-d', '--wait', '--remove-orphans'], report);

  const base = parseBaseUrl(hello.baseUrl);
  // the URLs the agent gives: the rule `up` waits for, with the EXPOSE ports of the images running
  const expected = expectedUrls(model, base, envId, session.key.accountId, undefined, await imagePorts(model, model.name, {}));
  const agent = new AgentClient({ envId, accountId: session.key.accountId, baseUrl: hello.baseUrl, privateKey: session.key.privateKey });
  const tunnels = await waitForUrls(agent, envId, expected, (options.waitTimeout ?? 120) * 1000, report, session.signal);
  await states.setStatus(envId, 'up');
  return { envId, exposes: model.name, urls: urlRows(tunnels) };
}

/** `expose --stop`: the agent's project down, its key revoked, the state gone; refused for an env `up` made. */
export async function stopExpose(session: Session, options: ExposeOptions): Promise<{ envId: string; exposes: string }> {
  const envId = options.id !== undefined ? (await resolveEnvId({ id: options.id, project: '', dir: options.source.cwd })) : (await exposedEnv(session, options)).envId;
  const state = await new EnvStateStore(session.store, session.profile.name).read(envId);
  if (!state?.exposes) throw errors.exposeNotExposed(envId);
  await down(session, envId);
  return { envId, exposes: state.exposes };
}
