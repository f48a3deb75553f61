// The generated compose overlay: adds the `prevu-agent` service beside the user's services and
// gives every service PREVU_ENV_ID and PREVU_URL_<SERVICE>[_<PORT>] (service discovery). Written
// as JSON (JSON is YAML) next to the env's state and passed as the last `-f`.
import { exposedPorts, h2cPorts, type ComposeModel } from './compose.js';
import { EXPOSE_LABEL, H2C_LABEL } from './expose-label.js';
import { AGENT_API_PORT, AGENT_SERVICE, composeProjectName, urlEnvName } from './names.js';
import { forwardUrl, serviceForwards, type PublicBase, type ServiceForward } from './urls.js';

export interface ExpectedUrl {
  service: string;
  port: number;
  url: string;
}

/** EXPOSE ports of each service's image, where the image is known (see up/build.ts). */
export type ImagePorts = Record<string, number[]>;

/** Every forward of the project with its URL, by the rule the agent applies (urls.ts). */
function projectUrls(model: ComposeModel, base: PublicBase, envId: string, accountId: string, imagePorts: ImagePorts): Array<ServiceForward & { service: string; url: string }> {
  return Object.entries(model.services)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([service, def]) => serviceForwards(service, exposedPorts(def, imagePorts[service])).map((f) => ({ ...f, service, url: forwardUrl(base, f.name, envId, accountId) })));
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
  /** `host:port` of the tunnel server's SSH port as seen from the agent container. */
  tunnelServer: string;
  tunnelHostKey?: string;
  /** The account private key file on the machine (becomes the compose secret `prevu_key`). */
  keyFile: string;
  private: boolean;
  /** Docker networks to join besides the project's own (e.g. the embedded server's). */
  externalNetworks?: string[];
  labels?: Record<string, string>;
  logLevel?: string;
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
  const networks = Object.fromEntries([...(projectNetworks.length ? projectNetworks : ['default']), ...(agent.externalNetworks ?? [])].map((n) => [n, {}]));
  services[AGENT_SERVICE] = {
    build: { context: agent.buildContext },
    image: agent.image,
    restart: 'unless-stopped',
    environment: {
      PREVU_TUNNEL_SERVER: agent.tunnelServer,
      PREVU_ENV_ID: envId,
      PREVU_COMPOSE_PROJECT: composeProjectName(envId),
      PREVU_KEY_FILE: '/run/secrets/prevu_key',
      PREVU_PRIVATE: String(agent.private),
      PREVU_DOCKER_SOCKET: '/var/run/docker.sock',
      PREVU_API_PORT: String(AGENT_API_PORT),
      PREVU_LOG_LEVEL: agent.logLevel ?? 'info',
      ...(agent.tunnelHostKey ? { PREVU_TUNNEL_HOST_KEY: agent.tunnelHostKey } : {}),
    },
    volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock', read_only: true }],
    secrets: [{ source: 'prevu_key', target: 'prevu_key' }],
    extra_hosts: ['host.docker.internal:host-gateway'],
    labels: { [EXPOSE_LABEL]: 'false', ...agent.labels },
    networks,
  };
  return {
    services,
    secrets: { prevu_key: { file: agent.keyFile } },
    ...(agent.externalNetworks?.length ? { networks: Object.fromEntries(agent.externalNetworks.map((n) => [n, { external: true, name: n }])) } : {}),
  };
}
