// The generated compose overlay: adds the `prevu-agent` service beside the user's services and
// gives every service PREVU_ENV_ID and PREVU_URL_<SERVICE>[_<PORT>] (service discovery). Written
// as JSON (JSON is YAML) next to the env's state and passed as the last `-f`.
import { exposedPorts, h2cPorts, type ComposeModel } from './compose.js';
import type { SelfDeleteTarget } from './drivers/driver.js';
import { EXPOSE_LABEL, exposeLabelTcpPorts, H2C_LABEL } from './expose-label.js';
import { AGENT_API_PORT, AGENT_SERVICE, composeProjectName, urlEnvName } from './names.js';
import { forwardUrl, serviceForwards, type PublicBase, type ServiceForward } from './urls.js';

export interface ExpectedUrl {
  service: string;
  port: number;
  url: string;
}

/** EXPOSE ports of each service's image, where the image is known (see up/build.ts). */
export type ImagePorts = Record<string, number[]>;

/** Every forward of the project with a public URL, by the rule the agent applies (urls.ts); `tcp:` ports have none. */
function projectUrls(model: ComposeModel, base: PublicBase, envId: string, accountId: string, imagePorts: ImagePorts): Array<ServiceForward & { service: string; url: string }> {
  return Object.entries(model.services)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([service, def]) => {
      const tcp = exposeLabelTcpPorts(def.labels?.[EXPOSE_LABEL]);
      return serviceForwards(service, exposedPorts(def, imagePorts[service]))
        .filter((f) => !tcp.includes(f.port))
        .map((f) => ({ ...f, service, url: forwardUrl(base, f.name, envId, accountId) }));
    });
}

/** Every URL the project will have (of `services` only, when given). */
export function expectedUrls(model: ComposeModel, base: PublicBase, envId: string, accountId: string, services?: string[], imagePorts: ImagePorts = {}): ExpectedUrl[] {
  return projectUrls(model, base, envId, accountId, imagePorts)
    .filter((u) => !services || services.includes(u.service))
    .map(({ service, port, url }) => ({ service, port, url }));
}

export interface AgentSettings {
  /** Build context of the agent image on the machine, and the tag compose gives the image. */
  buildContext: string;
  image: string;
  /** `host:port` of the tunnel server's SSH port (or `tls://host:port`) as seen from the agent container. */
  tunnelServer: string;
  tunnelHostKey?: string;
  /** For tls://: the name the certificate is checked against when not the address's host, and a PEM CA to trust. */
  tunnelTlsName?: string;
  tunnelCa?: string;
  /** The account private key file on the machine (becomes the compose secret `prevu_key`). */
  keyFile: string;
  private: boolean;
  /** Docker networks to join besides the project's own (e.g. the embedded server's). */
  externalNetworks?: string[];
  labels?: Record<string, string>;
  logLevel?: string;
  /** TTL, pin and sleep: the agent runs them (its lifecycle.ts). */
  lifecycle?: { expiresAt: string | null; pinned: boolean; sleepAfterSeconds: number };
  /** The agent deletes its instance at the TTL: where, and the credential file on the machine (the compose secret `prevu_lightsail_delete`). */
  selfDelete?: SelfDeleteTarget & { credentialFile: string };
}

/**
 * Service discovery: PREVU_ENV_ID and PREVU_URL_<SERVICE>[_<PORT>] of every URL. Every service
 * gets them in its environment (overlay), and compose gets them for interpolation, so
 * `${PREVU_URL_API}` works in build args and anywhere else in the user's files.
 */
export function discoveryEnv(model: ComposeModel, options: { envId: string; accountId: string; base: PublicBase; imagePorts?: ImagePorts }): Record<string, string> {
  const { envId, accountId, base, imagePorts = {} } = options;
  const env: Record<string, string> = { PREVU_ENV_ID: envId };
  for (const u of projectUrls(model, base, envId, accountId, imagePorts)) env[urlEnvName(u.service, u.namedPort)] = u.url;
  return env;
}

/** The `prevu-agent` service: its image, settings, the key secret, the Docker socket, and `networks` to join. */
function agentService(agent: AgentSettings, envId: string, watched: string, networks: string[]): Record<string, unknown> {
  return {
    build: { context: agent.buildContext },
    image: agent.image,
    restart: 'unless-stopped',
    environment: {
      PREVU_TUNNEL_SERVER: agent.tunnelServer,
      PREVU_ENV_ID: envId,
      PREVU_COMPOSE_PROJECT: watched,
      PREVU_KEY_FILE: '/run/secrets/prevu_key',
      PREVU_PRIVATE: String(agent.private),
      PREVU_DOCKER_SOCKET: '/var/run/docker.sock',
      PREVU_API_PORT: String(AGENT_API_PORT),
      PREVU_LOG_LEVEL: agent.logLevel ?? 'info',
      ...(agent.tunnelHostKey ? { PREVU_TUNNEL_HOST_KEY: agent.tunnelHostKey } : {}),
      ...(agent.tunnelTlsName ? { PREVU_TUNNEL_TLS_NAME: agent.tunnelTlsName } : {}),
      ...(agent.tunnelCa ? { PREVU_TUNNEL_CA: agent.tunnelCa } : {}),
      ...(agent.lifecycle?.expiresAt ? { PREVU_EXPIRES_AT: agent.lifecycle.expiresAt } : {}),
      PREVU_SLEEP_AFTER: String(agent.lifecycle?.sleepAfterSeconds ?? 0),
      PREVU_PINNED: String(agent.lifecycle?.pinned ?? false),
      ...(agent.selfDelete
        ? {
            PREVU_LIGHTSAIL_INSTANCE: agent.selfDelete.instanceName,
            PREVU_LIGHTSAIL_REGION: agent.selfDelete.region,
            ...(agent.selfDelete.endpoint ? { PREVU_LIGHTSAIL_ENDPOINT: agent.selfDelete.endpoint } : {}),
            PREVU_LIGHTSAIL_CREDENTIALS_FILE: '/run/secrets/prevu_lightsail_delete',
          }
        : {}),
    },
    volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock', read_only: true }],
    secrets: [{ source: 'prevu_key', target: 'prevu_key' }, ...(agent.selfDelete ? [{ source: 'prevu_lightsail_delete', target: 'prevu_lightsail_delete' }] : [])],
    extra_hosts: ['host.docker.internal:host-gateway'],
    labels: { [EXPOSE_LABEL]: 'false', ...agent.labels },
    networks: Object.fromEntries(networks.map((n) => [n, {}])),
  };
}

const externalNetworks = (names: string[]) => Object.fromEntries(names.map((n) => [n, { external: true, name: n }]));

export function buildOverlay(model: ComposeModel, options: { envId: string; accountId: string; base: PublicBase; agent: AgentSettings; imagePorts?: ImagePorts }): Record<string, unknown> {
  const { envId, agent } = options;
  const env = discoveryEnv(model, options);
  const services: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(model.services)) {
    // The agent sees containers, not compose's `app_protocol`: the label carries it (compose.ts, h2cPorts).
    const h2c = h2cPorts(def);
    services[name] = { environment: env, ...(h2c.length ? { labels: { [H2C_LABEL]: h2c.join(',') } } : {}) };
  }

  // The agent joins every network of the project so it reaches each service by its DNS name.
  const projectNetworks = Object.keys(model.networks ?? {});
  services[AGENT_SERVICE] = agentService(agent, envId, composeProjectName(envId), [...(projectNetworks.length ? projectNetworks : ['default']), ...(agent.externalNetworks ?? [])]);
  return {
    services,
    secrets: { prevu_key: { file: agent.keyFile }, ...(agent.selfDelete ? { prevu_lightsail_delete: { file: agent.selfDelete.credentialFile } } : {}) },
    ...(agent.externalNetworks?.length ? { networks: externalNetworks(agent.externalNetworks) } : {}),
  };
}

/**
 * `prevu expose`: the agent alone, as its own compose project, beside a project the user started
 * (`model.name`): it watches that project's containers and joins its networks, known here by
 * the names compose gave them, so nothing of the user's project is touched.
 */
export function exposeCompose(model: ComposeModel, options: { envId: string; agent: AgentSettings }): Record<string, unknown> {
  const { envId, agent } = options;
  const named = Object.entries(model.networks ?? {}).map(([key, network]) => (network as { name?: string } | null)?.name ?? `${model.name}_${key}`);
  const networks = [...(named.length ? named : [`${model.name}_default`]), ...(agent.externalNetworks ?? [])];
  return {
    name: composeProjectName(envId),
    services: { [AGENT_SERVICE]: agentService(agent, envId, model.name, networks) },
    secrets: { prevu_key: { file: agent.keyFile } },
    networks: externalNetworks(networks),
  };
}
