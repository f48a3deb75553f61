// The embedded tunnel server: a local container of @prevu/tunnel-server's bundle that `prevu up` starts
// when the profile says `embedded` (the default with no profile at all). Networking: the
// container joins the docker network `prevu`; agents join that network too (the overlay adds it
// as external) and reach the server by container name, so no SSH port needs to be reachable from
// containers through the host. For the CLI and the browser, HTTP, SSH and management ports are
// published on 127.0.0.1 only, with the same numbers inside and out (the server builds URLs from
// its own HTTP port). Every name and port can be moved by environment (tests run their own
// server beside a user's real one): PREVU_EMBEDDED_NAME, _NETWORK, _HTTP_PORT, _SSH_PORT,
// _MANAGEMENT_PORT.
import { imageBuild, TUNNEL_SERVER_IMAGE } from './artifacts.js';
import { docker, dockerExec, imageExists } from './docker-cli.js';
import { errors } from './errors.js';
import { poll } from './poll.js';

export interface EmbeddedSettings {
  container: string;
  network: string;
  volume: string;
  httpPort: number;
  sshPort: number;
  managementPort: number;
  baseDomain: string;
}

export const EMBEDDED_LABEL = 'dev.prevu.embedded';

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw errors.embeddedPortInvalid(name, raw);
  return value;
}

export function embeddedSettings(env: NodeJS.ProcessEnv = process.env): EmbeddedSettings {
  const container = env.PREVU_EMBEDDED_NAME || 'prevu-tunnel-server';
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(container)) throw errors.embeddedNameInvalid(container);
  return {
    container,
    network: env.PREVU_EMBEDDED_NETWORK || 'prevu',
    volume: `${container}-data`,
    httpPort: port(env, 'PREVU_EMBEDDED_HTTP_PORT', 8080),
    sshPort: port(env, 'PREVU_EMBEDDED_SSH_PORT', 2222),
    managementPort: port(env, 'PREVU_EMBEDDED_MANAGEMENT_PORT', 9090),
    baseDomain: 'localhost',
  };
}

export interface EmbeddedState {
  running: boolean;
  exists: boolean;
  settings: EmbeddedSettings;
  image?: string;
  /** False when the container runs another build than the installed @prevu/tunnel-server. */
  current?: boolean;
}

interface Inspect {
  State: { Running: boolean; Status: string };
  Config: { Image: string; Labels: Record<string, string> | null };
}

/** State of the container; ports come from its labels when it exists (it may predate the env). */
export async function embeddedStatus(settings: EmbeddedSettings = embeddedSettings()): Promise<EmbeddedState> {
  const result = await dockerExec(['container', 'inspect', settings.container]);
  if (result.code !== 0) {
    if (/no such (object|container)/i.test(result.stderr)) return { running: false, exists: false, settings };
    await docker(['version']); // turns "daemon down" into the matching PrevuError
    throw errors.dockerNotRunning(result.stderr.trim());
  }
  const [info] = JSON.parse(result.stdout) as Inspect[];
  const labels = info?.Config.Labels ?? {};
  const fromLabel = (key: string, fallback: number) => (labels[key] ? Number(labels[key]) : fallback);
  let current: boolean | undefined;
  try {
    current = info?.Config.Image === imageBuild(TUNNEL_SERVER_IMAGE).image;
  } catch {
    current = undefined; // not built here: nothing to compare with
  }
  return {
    running: Boolean(info?.State.Running),
    exists: true,
    image: info?.Config.Image,
    ...(current === undefined ? {} : { current }),
    settings: {
      ...settings,
      httpPort: fromLabel(`${EMBEDDED_LABEL}.http-port`, settings.httpPort),
      sshPort: fromLabel(`${EMBEDDED_LABEL}.ssh-port`, settings.sshPort),
      managementPort: fromLabel(`${EMBEDDED_LABEL}.management-port`, settings.managementPort),
      network: labels[`${EMBEDDED_LABEL}.network`] ?? settings.network,
    },
  };
}

async function ensureImage(onProgress?: (line: string) => void): Promise<string> {
  const { context, image } = imageBuild(TUNNEL_SERVER_IMAGE);
  if (await imageExists(image)) return image;
  onProgress?.(`building ${image}`);
  await docker(['build', '-q', '-t', image, context]);
  return image;
}

async function ensureNetwork(network: string): Promise<void> {
  const inspect = await dockerExec(['network', 'inspect', network]);
  if (inspect.code === 0) return;
  const created = await dockerExec(['network', 'create', '--label', `${EMBEDDED_LABEL}=true`, network]);
  // a concurrent `prevu up` may have made it in between
  if (created.code !== 0 && !/already exists/i.test(created.stderr)) throw errors.dockerNotRunning(created.stderr.trim());
}

async function waitHealthy(settings: EmbeddedSettings, timeoutMs = 30_000): Promise<void> {
  const url = `http://127.0.0.1:${settings.managementPort}/healthz`;
  let last = '';
  const { request } = await import('undici'); // here, not at the top: see agent-client.ts
  await poll(
    async () => {
      try {
        const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
        await res.body.dump();
        if (res.statusCode === 200) return true;
        last = `HTTP ${res.statusCode}`;
      } catch (error) {
        last = (error as Error).message;
      }
      return undefined;
    },
    { timeoutMs, intervalMs: 100 },
    () => new Error(last),
  ).catch(async (error: Error) => {
    const logs = await dockerExec(['logs', '--tail', '5', settings.container]);
    throw errors.tunnelServerUnreachable(url, `${error.message}; container log: ${(logs.stdout + logs.stderr).trim().split('\n').pop() ?? ''}`);
  });
}

/**
 * Starts the embedded server unless it runs; returns the settings in effect. Idempotent. With
 * `upgrade`, a server running an older build is replaced (agents reconnect and keep their URLs).
 */
export async function ensureEmbeddedServer(settings: EmbeddedSettings = embeddedSettings(), onProgress?: (line: string) => void, options: { upgrade?: boolean } = {}): Promise<EmbeddedSettings> {
  const state = await embeddedStatus(settings);
  if (state.running && options.upgrade && state.image !== imageBuild(TUNNEL_SERVER_IMAGE).image) {
    onProgress?.(`replacing ${settings.container} (${state.image}) with the current build`);
    await docker(['rm', '-f', settings.container]);
    return ensureEmbeddedServer(state.settings, onProgress);
  }
  if (state.running) {
    await waitHealthy(state.settings);
    return state.settings;
  }
  // A stopped container is made again from the current image and settings; its state (host key,
  // dev CA) lives in the volume, so nothing is lost.
  if (state.exists) await docker(['rm', '-f', settings.container]);
  const image = await ensureImage(onProgress);
  await ensureNetwork(settings.network);
  onProgress?.(`starting ${settings.container} on 127.0.0.1:${settings.httpPort}`);
  const s = settings;
  const run = await dockerExec([
    'run', '-d', '--name', s.container, '--restart', 'unless-stopped',
    '--network', s.network,
    '--label', `${EMBEDDED_LABEL}=true`,
    '--label', `${EMBEDDED_LABEL}.http-port=${s.httpPort}`,
    '--label', `${EMBEDDED_LABEL}.ssh-port=${s.sshPort}`,
    '--label', `${EMBEDDED_LABEL}.management-port=${s.managementPort}`,
    '--label', `${EMBEDDED_LABEL}.network=${s.network}`,
    '-p', `127.0.0.1:${s.httpPort}:${s.httpPort}`,
    '-p', `127.0.0.1:${s.sshPort}:${s.sshPort}`,
    '-p', `127.0.0.1:${s.managementPort}:${s.managementPort}`,
    '-v', `${s.volume}:/data`,
    image,
    '--ssh-port', String(s.sshPort), '--http-port', String(s.httpPort), '--management-port', String(s.managementPort),
    '--base-domain', s.baseDomain, '--state-dir', '/data', '--listen', '0.0.0.0',
  ]);
  if (run.code !== 0 && /is already in use by container/.test(run.stderr)) {
    // another `prevu up` started it at the same moment: use that one
    await waitHealthy(s);
    return s;
  }
  if (run.code !== 0) {
    // docker creates the container before it binds the ports: leave nothing behind
    await dockerExec(['rm', '-f', s.container]);
    const busy = /listen tcp4? [\d.]*:(\d+): bind: address already in use/.exec(run.stderr);
    if (busy) {
      const name = Number(busy[1]) === s.httpPort ? 'HTTP' : Number(busy[1]) === s.sshPort ? 'SSH' : 'MANAGEMENT';
      throw errors.embeddedPortInUse(Number(busy[1]), name);
    }
    throw errors.dockerNotRunning(run.stderr.trim().split('\n')[0] ?? `docker run exited ${run.code}`);
  }
  await waitHealthy(s);
  return s;
}

/** Stops and removes the container (and with `purgeData`, its state volume and network). Idempotent. */
export async function stopEmbeddedServer(settings: EmbeddedSettings = embeddedSettings(), options: { purgeData?: boolean } = {}): Promise<boolean> {
  const state = await embeddedStatus(settings);
  if (state.exists) await docker(['rm', '-f', settings.container]);
  if (options.purgeData) {
    await dockerExec(['volume', 'rm', '-f', settings.volume]);
    // still in use by a deployed env's agent: then it stays, which is what that env needs
    await dockerExec(['network', 'rm', state.settings.network]);
  }
  return state.exists;
}
