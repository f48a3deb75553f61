// The ssh driver: an existing host the user reaches with a key. prevu does not own the machine,
// only `<baseDir>/<envId>` on it (uploaded files, their manifest); Docker is the host's own engine,
// reached through its socket forwarded over the one SSH connection the driver keeps (and remakes
// when it drops). Over 250 lines on purpose: the one connection's life and the Driver methods
// that use it stay together; connecting and uploads are in ssh-*.ts, the socket forward in
// docker-socket.ts.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { errors } from '../errors.js';
import { HOST_KEY_PIN, HOST_KEY_PIN_HINT } from '../ssh-fingerprint.js';
import { composeProjectName, toLabelPart } from '../names.js';
import type { DockerEndpoint, Driver, Machine, MachineRecord, UploadPlan, UploadResult } from './driver.js';
import { sshExec } from '../ssh-exec.js';
import { connectSsh, sftpCall, shellQuote, sshTarget, type SshConnectOptions } from './ssh-connect.js';
import { dockerGet, forwardDockerSocket } from './docker-socket.js';
import { uploadTree } from './ssh-upload.js';

const USER = /^[a-z_][a-z0-9_.-]*\$?$/i;
const hostKeyPin = z.string().trim().regex(HOST_KEY_PIN, HOST_KEY_PIN_HINT);

/** What the profile stores for `--driver ssh` (and what the lightsail driver passes per instance). */
export const sshSettingsSchema = z
  .object({
    /** `user@host:port`, `user@host`, `host`, `[::1]:2222`; user and port may also come apart. */
    host: z.string().min(1),
    user: z.string().regex(USER, 'a Unix user name').optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** OpenSSH private key file (unencrypted); wins over privateKey. */
    privateKeyPath: z.string().min(1).optional(),
    /** The key itself (the registry passes the profile's account key). */
    privateKey: z.string().min(1).optional(),
    /** The profile's known_hosts file (OpenSSH format; host keys are recorded on first use). */
    knownHostsPath: z.string().min(1),
    /**
     * The host's key pinned (`--set hostKey=SHA256:...`; the lightsail driver passes the keys AWS
     * reports): only these are accepted and known_hosts is not consulted.
     */
    hostKey: z.union([hostKeyPin, z.array(hostKeyPin).min(1)]).optional(),
    /** Where env directories live on the host; `~` is the SSH user's home. */
    baseDir: z.string().regex(/^(~|\/)/, 'an absolute path or one under ~').default('~/.prevu/envs'),
    dockerSocket: z.string().startsWith('/').default('/var/run/docker.sock'),
    /** Keep-alive every N s; 3 missed answers end the connection, so a dead host shows in seconds. */
    keepAliveSeconds: z.number().int().min(1).max(300).default(10),
    readyTimeoutSeconds: z.number().int().min(1).max(300).default(20),
    /** Parallel SFTP operations during an upload. */
    uploadConcurrency: z.number().int().min(1).max(64).default(16),
  })
  .refine((s) => s.privateKeyPath || s.privateKey, { message: 'give privateKeyPath or privateKey', path: ['privateKeyPath'] });
export type SshSettingsInput = z.input<typeof sshSettingsSchema>;
export type SshSettings = z.output<typeof sshSettingsSchema>;

/** `user@host:port` (IPv6 in brackets) into parts; parts given separately win. */
export function parseSshHost(spec: string): { user?: string; host: string; port?: number } {
  const match = /^(?:([^@\s]+)@)?(?:\[([^\]\s]+)\]|([^:@\s[\]]+))(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!match) throw errors.sshHostInvalid(spec);
  const [, user, v6, name, port] = match;
  if (user !== undefined && !USER.test(user)) throw errors.sshUserInvalid(user);
  return { host: (v6 ?? name)!, ...(user ? { user } : {}), ...(port ? { port: Number(port) } : {}) };
}

interface Resolved {
  settings: SshSettings;
  connect: SshConnectOptions;
}

function resolveSettings(input: unknown): Resolved {
  const parsed = sshSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'settings';
    throw errors.sshSettingInvalid(field, issue.message, field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
  }
  const settings = parsed.data;
  const spec = parseSshHost(settings.host);
  const port = settings.port ?? spec.port ?? 22;
  if (port < 1 || port > 65535) throw errors.sshPortInvalid(port);
  const keyLabel = settings.privateKeyPath ?? 'the profile key';
  let privateKey = settings.privateKey!;
  if (settings.privateKeyPath) {
    const path = settings.privateKeyPath.replace(/^~(?=\/|$)/, homedir());
    try {
      privateKey = readFileSync(path, 'utf8');
    } catch (error) {
      throw errors.sshKeyInvalid(keyLabel, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message);
    }
  }
  const key = ssh2.utils.parseKey(privateKey);
  if (key instanceof Error) throw errors.sshKeyInvalid(keyLabel, key.message);
  return {
    settings,
    connect: {
      host: spec.host,
      port,
      user: settings.user ?? spec.user ?? 'root',
      privateKey,
      keyLabel,
      knownHostsPath: settings.knownHostsPath,
      ...(settings.hostKey ? { hostKeyPins: [settings.hostKey].flat() } : {}),
      keepAliveSeconds: settings.keepAliveSeconds,
      readyTimeoutSeconds: settings.readyTimeoutSeconds,
    },
  };
}

const validEnvId = (envId: string) => {
  // The env id becomes a remote path: nothing but [a-z0-9-] may reach it.
  if (!envId || toLabelPart(envId) !== envId) throw errors.envIdNotNormalized(envId);
  return envId;
};

class SshMachine implements Machine {
  constructor(
    private readonly driver: SshDriver,
    readonly envId: string,
    /** Absolute path of the env directory on the host. */
    readonly dir: string,
  ) {}

  docker(): Promise<DockerEndpoint> {
    return this.driver.dockerEndpoint();
  }

  async upload(plan: UploadPlan, signal?: AbortSignal): Promise<UploadResult> {
    return this.driver.withSftp((sftp) =>
      uploadTree(plan.paths, {
        sftp,
        filesDir: posix.join(this.dir, 'files'),
        manifestPath: posix.join(this.dir, 'manifest.json'),
        concurrency: this.driver.settings.uploadConcurrency,
        ...(plan.ignore ? { ignore: plan.ignore } : {}),
        ...(signal ? { signal } : {}),
      }),
    );
  }
}

export class SshDriver implements Driver {
  readonly name = 'ssh';
  readonly thisEngine = false;
  readonly settings: SshSettings;
  private readonly connectOptions: SshConnectOptions;
  private client?: Promise<ssh2.Client>;
  private baseDir?: string;
  private readonly endpoints = new Set<DockerEndpoint>();

  constructor(settings: SshSettingsInput) {
    const resolved = resolveSettings(settings);
    this.settings = resolved.settings;
    this.connectOptions = resolved.connect;
  }

  /** `user@host:port`, as messages name it. */
  get target(): string {
    return sshTarget(this.connectOptions);
  }

  async ensureMachine(envId: string, signal?: AbortSignal): Promise<Machine> {
    validEnvId(envId);
    await this.connection(signal);
    await this.checkDocker();
    const dir = posix.join(await this.base(), envId);
    await this.withSftp(async (sftp) => {
      await mkdirp(sftp, dir);
      const info = posix.join(dir, 'env.json');
      if (!(await sftpCall(sftp, 'stat', info).then(() => true, () => false))) {
        await sftpCall(sftp, 'writeFile', info, JSON.stringify({ envId, createdAt: new Date().toISOString() }));
      }
    });
    return new SshMachine(this, envId, dir);
  }

  /**
   * The host is always there (and not prevu's to lose): whether the env exists is for its compose
   * project to say, so `down` still finds containers whose env dir was deleted by hand.
   */
  async findMachine(envId: string): Promise<Machine> {
    validEnvId(envId);
    return new SshMachine(this, envId, posix.join(await this.base(), envId));
  }

  /** Env directories under the base dir; state from the env's compose containers on the host. */
  async list(): Promise<MachineRecord[]> {
    const base = await this.base();
    const envs = await this.withSftp(async (sftp) => {
      const names = await sftpCall<ssh2.FileEntry[]>(sftp, 'readdir', base).catch(() => [] as ssh2.FileEntry[]);
      const dirs = names.filter((n) => (n.attrs.mode & 0o170000) === 0o040000 && toLabelPart(n.filename) === n.filename);
      return Promise.all(
        dirs.map(async ({ filename }) => {
          const text = await sftpCall<Buffer>(sftp, 'readFile', posix.join(base, filename, 'env.json')).catch(() => undefined);
          const createdAt = text ? z.object({ createdAt: z.iso.datetime() }).safeParse(JSON.parse(text.toString())).data?.createdAt : undefined;
          return { envId: filename, ...(createdAt ? { createdAt: new Date(createdAt) } : {}) };
        }),
      );
    });
    const states = await this.projectStates();
    return envs.map((e) => ({ ...e, driver: this.name, host: this.connectOptions.host, state: states.get(composeProjectName(e.envId)) ?? 'no containers' }));
  }

  /** Deletes the env directory; the host itself is not prevu's. */
  async remove(envId: string): Promise<boolean> {
    validEnvId(envId);
    const dir = posix.join(await this.base(), envId);
    const client = await this.connection();
    const result = await sshExec(client, `rm -rf -- ${shellQuote(dir)}`);
    if (result.code !== 0) throw errors.sshFailed(`removing ${dir} on ${this.target}`, result.stderr.trim().split('\n')[0] || `exit ${result.code}`);
    return false;
  }

  async close(): Promise<void> {
    await Promise.all([...this.endpoints].map((e) => e.close()));
    const client = this.client;
    this.client = undefined;
    if (client) (await client.catch(() => undefined))?.end();
  }

  /** A local unix socket that reaches the host's Docker; closed by the caller or by close(). */
  async dockerEndpoint(): Promise<DockerEndpoint> {
    const endpoint = await forwardDockerSocket(() => this.openDocker());
    const close = endpoint.close;
    const tracked: DockerEndpoint = {
      env: endpoint.env,
      close: async () => {
        this.endpoints.delete(tracked);
        await close();
      },
    };
    this.endpoints.add(tracked);
    return tracked;
  }

  /** The live connection, made (again) when there is none. */
  connection(signal?: AbortSignal): Promise<ssh2.Client> {
    if (!this.client) {
      const made = connectSsh(this.connectOptions, signal);
      this.client = made;
      made.then(
        (client) => client.once('close', () => this.client === made && (this.client = undefined)),
        () => this.client === made && (this.client = undefined),
      );
    }
    return this.client;
  }

  async withSftp<T>(use: (sftp: ssh2.SFTPWrapper) => Promise<T>): Promise<T> {
    const client = await this.connection();
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      client.sftp((error, s) => (error ? reject(errors.sshFailed(`opening SFTP on ${this.target}`, error.message)) : resolve(s))),
    );
    try {
      return await use(sftp);
    } finally {
      sftp.end();
    }
  }

  private async openDocker(): Promise<Duplex> {
    const client = await this.connection();
    return new Promise((resolve, reject) => client.openssh_forwardOutStreamLocal(this.settings.dockerSocket, (error, channel) => (error ? reject(error) : resolve(channel))));
  }

  private async checkDocker(): Promise<void> {
    let detail: string;
    try {
      const res = await dockerGet(() => this.openDocker(), '/_ping');
      if (res.status === 200) return;
      detail = `${this.settings.dockerSocket} answered ${res.status} ${res.body.trim()}`;
    } catch (error) {
      detail = `${this.settings.dockerSocket}: ${(error as Error).message}`;
    }
    throw errors.remoteDockerUnavailable(this.target, detail);
  }

  /** compose project -> running | stopped, from the host's containers. */
  private async projectStates(): Promise<Map<string, string>> {
    const filters = encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project'] }));
    const res = await dockerGet(() => this.openDocker(), `/containers/json?all=1&filters=${filters}`).catch(() => undefined);
    const states = new Map<string, string>();
    if (res?.status !== 200) return states;
    const containers = z.array(z.object({ State: z.string(), Labels: z.record(z.string(), z.string()) })).safeParse(JSON.parse(res.body));
    for (const c of containers.data ?? []) {
      const project = c.Labels['com.docker.compose.project']!;
      if (c.State === 'running') states.set(project, 'running');
      else if (!states.has(project)) states.set(project, 'stopped');
    }
    return states;
  }

  /** The base dir as an absolute path (`~` is where SFTP starts: the user's home). */
  private async base(): Promise<string> {
    if (this.baseDir) return this.baseDir;
    const configured = this.settings.baseDir;
    if (configured.startsWith('/')) return (this.baseDir = posix.normalize(configured));
    const home = await this.withSftp((sftp) => sftpCall<string>(sftp, 'realpath', '.'));
    return (this.baseDir = posix.join(home, configured.slice(1)));
  }
}

export function createSshDriver(settings: SshSettingsInput): SshDriver {
  return new SshDriver(settings);
}

async function mkdirp(sftp: ssh2.SFTPWrapper, dir: string): Promise<void> {
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += `/${part}`;
    const made = await sftpCall(sftp, 'mkdir', path).then(() => true, () => false);
    if (!made) {
      const info = await sftpCall<ssh2.Stats>(sftp, 'stat', path).catch(() => undefined);
      if (!info?.isDirectory()) throw errors.sshFailed(`creating ${dir}`, `${path} cannot be made a directory`);
    }
  }
}
