// The lightsail driver: one AWS Lightsail instance per environment, found by its tags
// (`prevu:env`, `prevu:profile`) or created with them and with user-data that installs Docker;
// once SSH and Docker answer, everything else is the ssh driver's, reached through the Driver
// interface (the registry passes an ssh-driver factory; this file never imports ssh.ts).
// Over 250 lines on purpose: an instance's whole life (settings, find, create, wait, pin its keys,
// delete) reads in order here; its errors and user-data have rooms of their own (lightsail-*.ts).
import {
  CreateInstancesCommand,
  DeleteInstanceCommand,
  GetBlueprintsCommand,
  GetBundlesCommand,
  GetInstanceAccessDetailsCommand,
  GetInstanceCommand,
  GetInstancesCommand,
  GetKeyPairCommand,
  GetRegionsCommand,
  ImportKeyPairCommand,
  LightsailClient,
  OpenInstancePublicPortsCommand,
  type GetBlueprintsCommandOutput,
  type GetBundlesCommandOutput,
  type GetInstanceAccessDetailsCommandOutput,
  type GetInstanceCommandOutput,
  type GetInstancesCommandOutput,
  type GetRegionsCommandOutput,
  type Instance,
} from '@aws-sdk/client-lightsail';
import { z } from 'zod';
import { errors, isError, isPrevuError } from '../errors.js';
import { accountIdFromKeyBlob, toLabelPart } from '../names.js';
import { HOST_KEY_PIN } from '../ssh-fingerprint.js';
import type { Driver, Machine, MachineRecord } from './driver.js';
import { lightsailError } from './lightsail-errors.js';
import { lightsailUserData } from './lightsail-user-data.js';
import { poll } from '../poll.js';

export const TAG_ENV = 'prevu:env';
export const TAG_PROFILE = 'prevu:profile';

/** The profile's driverOptions for lightsail (`prevu init --driver lightsail --set key=value`). */
export const lightsailSettingsSchema = z.object({
  /** Default: the SDK's region chain (AWS_REGION, AWS_PROFILE's config). */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'a region looks like us-east-1').optional(),
  /** Default: `<region>a`. */
  availabilityZone: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/, 'an availability zone looks like us-east-1a').optional(),
  /** small_3_0: 2 GB RAM, 2 vCPUs; enough for a compose project and its image builds. */
  bundleId: z.string().min(1).default('small_3_0'),
  blueprintId: z.string().min(1).default('debian_12'),
  /** Default: `prevu-<accountId>`, so one name always means one key. */
  keyPairName: z.string().regex(/^[\w.-]{1,255}$/, 'letters, digits, _ . - only').optional(),
  sshPort: z.number().int().min(1).max(65535).default(22),
  /** The login user of the blueprint (Lightsail's Debian images: admin). */
  sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'a Unix user name').default('admin'),
  /** Where env directories live on the instance; default: the ssh driver's (`~/.prevu/envs`). */
  baseDir: z.string().regex(/^(~|\/)/, 'an absolute path or one under ~').optional(),
});
export type LightsailSettingsInput = z.input<typeof lightsailSettingsSchema>;
export type LightsailSettings = z.output<typeof lightsailSettingsSchema>;

/** Validates settings at the boundary; one line naming the setting on failure. */
export function parseLightsailSettings(input: unknown): LightsailSettings {
  const parsed = lightsailSettingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'settings';
  throw errors.lightsailSettingInvalid(field, issue.message);
}

/** Where the ssh driver must connect for an instance. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  baseDir?: string;
  /** The instance's host keys as AWS reports them (`SHA256:...`): pinned, no trust on first use. */
  hostKey?: string[];
}
/** Makes the ssh driver for one instance (the registry binds the profile's private key). */
export type SshDriverFactory = (target: SshTarget) => Driver;

export interface LightsailTimeouts {
  /** From create to `running` with a public IP. */
  runningMs: number;
  /** From `running` to SSH and Docker answering (user-data installs Docker meanwhile). */
  readyMs: number;
  /** First poll interval; grows 1.5x per poll up to 5 s. */
  pollMs: number;
}

export interface LightsailDriverOptions {
  /** Profile name, recorded in the `prevu:profile` tag. */
  profile: string;
  settings: LightsailSettingsInput;
  /** The profile's OpenSSH public key line; imported as the instance's key pair. */
  publicKey: string;
  sshDriver: SshDriverFactory;
  onProgress?: (message: string) => void;
  timeouts?: Partial<LightsailTimeouts>;
  /**
   * Drops a recorded SSH host key (the registry binds the profile's known_hosts). Called for a
   * new instance's address before first contact and after a delete: Lightsail recycles public
   * IPs, and a recycled one must not look like a host whose key changed.
   */
  forgetHostKey?: (host: string, port: number) => void;
}

export class LightsailDriver implements Driver {
  readonly name = 'lightsail';
  readonly thisEngine = false;
  private readonly settings: LightsailSettings;
  private readonly client: LightsailClient;
  private readonly timeouts: LightsailTimeouts;
  private readonly ssh = new Map<string, Driver>();
  private region?: string;

  constructor(private readonly options: LightsailDriverOptions) {
    this.settings = parseLightsailSettings(options.settings);
    // Endpoint, credentials and retries come from the SDK's own chains: AWS_ENDPOINT_URL_LIGHTSAIL,
    // env/SSO/shared profiles, the standard retry strategy (3 attempts, backoff on throttling).
    // On Node 20 the SDK prints a 7-line notice about its releases after January 2027 before
    // every error line; prevu pins its SDK version and supports Node 20, so the notice says
    // nothing a prevu user can act on. A user's own setting wins.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new LightsailClient(this.settings.region ? { region: this.settings.region } : {});
    this.timeouts = { runningMs: 300_000, readyMs: 600_000, pollMs: 1000, ...options.timeouts };
  }

  async ensureMachine(envId: string, signal?: AbortSignal): Promise<Machine> {
    let instance = await this.findInstance(envId, signal);
    const created = !instance;
    if (instance) {
      this.progress(`reusing Lightsail instance ${instance.name} (${instance.state?.name})`);
    } else {
      const availabilityZone = await this.availabilityZone();
      await this.checkSettings(availabilityZone, signal);
      const keyPairName = await this.ensureKeyPair(signal);
      const name = instanceName(this.options.profile, envId);
      this.progress(`creating Lightsail instance ${name} (${this.settings.bundleId}, ${this.settings.blueprintId}, ${availabilityZone})`);
      // Tags go in the create call itself: an interrupted `up` can never leave an untagged instance.
      await this.call('CreateInstances', signal, () =>
        new CreateInstancesCommand({
          instanceNames: [name],
          availabilityZone,
          bundleId: this.settings.bundleId,
          blueprintId: this.settings.blueprintId,
          ...(keyPairName ? { keyPairName } : {}),
          userData: lightsailUserData({ sshUser: this.settings.sshUser, sshPort: this.settings.sshPort, authorizedKey: this.options.publicKey }),
          tags: [
            { key: TAG_ENV, value: envId },
            { key: TAG_PROFILE, value: this.options.profile },
          ],
        }),
      );
      instance = { name };
    }
    const running = await this.waitRunning(instance.name!, signal);
    if (created) this.options.forgetHostKey?.(running.publicIpAddress!, this.settings.sshPort);
    if (this.settings.sshPort !== 22) {
      // Lightsail's firewall opens 22 only; the port is idempotent to open again.
      await this.call('OpenInstancePublicPorts', signal, () =>
        new OpenInstancePublicPortsCommand({ instanceName: running.name, portInfo: { fromPort: this.settings.sshPort, toPort: this.settings.sshPort, protocol: 'tcp' } }),
      );
    }
    const machine = await this.waitReady(envId, running, signal);
    const endpoint = lightsailEndpoint();
    // The agent may delete this instance at the env's TTL, with a credential that can do nothing else.
    return { envId, docker: () => machine.docker(), upload: (plan, s) => machine.upload(plan, s), selfDelete: { instanceName: running.name!, region: await this.resolvedRegion(), ...(endpoint ? { endpoint } : {}) } };
  }

  async findMachine(envId: string): Promise<Machine | undefined> {
    const instance = await this.findInstance(envId);
    if (!instance?.publicIpAddress || instance.state?.name !== 'running') return undefined;
    return (await this.sshDriver(envId, instance)).findMachine(envId);
  }

  async list(): Promise<MachineRecord[]> {
    const instances = await this.instances();
    return instances.map((i) => ({
      envId: tag(i, TAG_ENV)!,
      driver: this.name,
      state: i.state?.name ?? 'unknown',
      ...(i.publicIpAddress ? { host: i.publicIpAddress } : {}),
      ...(i.createdAt ? { createdAt: i.createdAt } : {}),
    }));
  }

  async remove(envId: string): Promise<boolean> {
    await this.dropSsh(envId);
    const matches = (await this.instances()).filter((i) => tag(i, TAG_ENV) === envId);
    for (const instance of matches) {
      this.progress(`deleting Lightsail instance ${instance.name}`);
      try {
        await this.call('DeleteInstance', undefined, () => new DeleteInstanceCommand({ instanceName: instance.name }));
      } catch (error) {
        // Deleted meanwhile (a concurrent `down`): that is the goal.
        if (!notFound(error)) throw error;
      }
      if (instance.publicIpAddress) this.options.forgetHostKey?.(instance.publicIpAddress, this.settings.sshPort);
    }
    return matches.length > 0;
  }

  async close(): Promise<void> {
    for (const envId of [...this.ssh.keys()]) await this.dropSsh(envId);
    this.client.destroy();
  }

  /** The profile's instances (all envs), every page of GetInstances. */
  private async instances(signal?: AbortSignal): Promise<Instance[]> {
    const pages = await this.allPages<GetInstancesCommandOutput>('GetInstances', signal, (pageToken) => new GetInstancesCommand(pageToken ? { pageToken } : {}));
    return pages.flatMap((page) => page.instances ?? []).filter((i) => tag(i, TAG_PROFILE) === this.options.profile && tag(i, TAG_ENV));
  }

  /** Every page of a paged Get* call, in order. */
  private async allPages<P extends { nextPageToken?: string | undefined }>(operation: string, signal: AbortSignal | undefined, make: (pageToken?: string) => { input: unknown }): Promise<P[]> {
    const pages: P[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.call<P>(operation, signal, () => make(pageToken));
      pages.push(page);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return pages;
  }

  /**
   * The zone, bundle and blueprint checked against Lightsail's own lists before an instance is
   * asked for: a refusal then names the setting and the valid choices, where the wording of
   * CreateInstances' InvalidInputException is AWS's to change.
   */
  private async checkSettings(availabilityZone: string, signal?: AbortSignal): Promise<void> {
    const region = await this.resolvedRegion();
    const [regions, bundles, blueprints] = await Promise.all([
      this.call<GetRegionsCommandOutput>('GetRegions', signal, () => new GetRegionsCommand({ includeAvailabilityZones: true })),
      this.allPages<GetBundlesCommandOutput>('GetBundles', signal, (pageToken) => new GetBundlesCommand(pageToken ? { pageToken } : {})),
      this.allPages<GetBlueprintsCommandOutput>('GetBlueprints', signal, (pageToken) => new GetBlueprintsCommand(pageToken ? { pageToken } : {})),
    ]);
    const zones = (regions.regions?.find((r) => r.name === region)?.availabilityZones ?? []).map((z) => z.zoneName!);
    const refuse = (what: string, choices: string[], flag: string, list: string) => errors.awsInvalidSetting(`${what} (valid: ${choices.slice(0, 8).join(', ')}${choices.length > 8 ? ', ...' : ''})`, flag, list);
    if (!zones.includes(availabilityZone)) {
      throw refuse(`the availability zone "${availabilityZone}" in ${region}`, zones, '--set availabilityZone=<zone>', `aws lightsail get-regions --include-availability-zones --region ${region}`);
    }
    const bundleIds = bundles.flatMap((page) => page.bundles ?? []).filter((b) => b.isActive !== false).map((b) => b.bundleId!);
    if (!bundleIds.includes(this.settings.bundleId)) throw refuse(`the bundle "${this.settings.bundleId}"`, bundleIds, '--set bundleId=<id>', 'aws lightsail get-bundles');
    const blueprintIds = blueprints.flatMap((page) => page.blueprints ?? []).filter((b) => b.isActive !== false).map((b) => b.blueprintId!);
    if (!blueprintIds.includes(this.settings.blueprintId)) throw refuse(`the blueprint "${this.settings.blueprintId}"`, blueprintIds, '--set blueprintId=<id>', 'aws lightsail get-blueprints');
  }

  private async findInstance(envId: string, signal?: AbortSignal): Promise<Instance | undefined> {
    return (await this.instances(signal)).find((i) => tag(i, TAG_ENV) === envId);
  }

  private async ensureKeyPair(signal?: AbortSignal): Promise<string | undefined> {
    const name = this.settings.keyPairName ?? `prevu-${accountIdFromKeyBlob(keyBlob(this.options.publicKey))}`;
    try {
      await this.call('GetKeyPair', signal, () => new GetKeyPairCommand({ keyPairName: name }));
      return name;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    this.progress(`importing key pair ${name}`);
    try {
      await this.call('ImportKeyPair', signal, () => new ImportKeyPairCommand({ keyPairName: name, publicKeyBase64: this.options.publicKey.trim() }));
    } catch (error) {
      const cause = isPrevuError(error) ? (error.cause as { name?: string; message?: string } | undefined) : undefined;
      if (cause?.name !== 'InvalidInputException') throw error;
      // Imported meanwhile by a concurrent `up` of the same profile: the name is bound to the key.
      if (await this.call('GetKeyPair', signal, () => new GetKeyPairCommand({ keyPairName: name })).then(() => true, () => false)) return name;
      // Lightsail documents ssh-rsa keys only: without the key pair the instance gets the
      // region's default one, and the user-data authorizes the profile key anyway.
      this.progress(`Lightsail refused the key pair (${cause.message}); the user-data authorizes the profile key instead`);
      return undefined;
    }
    return name;
  }

  private waitRunning(name: string, signal?: AbortSignal): Promise<Instance> {
    let state = 'unknown';
    return poll(
      async (elapsed) => {
        if (elapsed) this.progress(`waiting for ${name}: ${state} (${Math.round(elapsed / 1000)} s)`);
        const { instance } = await this.call<GetInstanceCommandOutput>('GetInstance', signal, () => new GetInstanceCommand({ instanceName: name }));
        state = instance?.state?.name ?? 'unknown';
        if (state === 'running' && instance?.publicIpAddress) return instance;
        if (state === 'stopped' || state === 'stopping' || state === 'shutting-down' || state === 'terminated') {
          throw errors.lightsailInstanceStopped(name, state);
        }
        return undefined;
      },
      { timeoutMs: this.timeouts.runningMs, intervalMs: this.timeouts.pollMs, growth: 1.5, maxIntervalMs: 5000, ...(signal ? { signal } : {}) },
      (elapsed) => errors.machineNotReady(`Lightsail instance ${name} is still ${state}`, Math.round(elapsed / 1000), 'look at it in the Lightsail console; `prevu down` deletes it'),
    );
  }

  /**
   * Until the ssh driver's ensureMachine succeeds, which by the Driver contract means SSH answers
   * and Docker takes commands: user-data may still be installing Docker meanwhile.
   */
  private waitReady(envId: string, instance: Instance, signal?: AbortSignal): Promise<Machine> {
    const host = instance.publicIpAddress!;
    let cause: unknown;
    return poll(
      async (elapsed) => {
        if (elapsed) this.progress(`waiting for SSH and Docker on ${host} (${Math.round(elapsed / 1000)} s)`);
        const ssh = await this.sshDriver(envId, instance, signal);
        try {
          return await ssh.ensureMachine(envId, signal);
        } catch (error) {
          // A changed host key is the user's to judge, never something to wait out.
          if (signal?.aborted || isError(error, errors.hostKeyMismatch, errors.hostKeyNotPinned)) throw error;
          cause = error;
          // A fresh SSH session next time: group membership (docker) is read at login.
          await this.dropSsh(envId);
          return undefined;
        }
      },
      { timeoutMs: this.timeouts.readyMs, intervalMs: this.timeouts.pollMs, growth: 1.5, maxIntervalMs: 5000, ...(signal ? { signal } : {}) },
      (elapsed) => {
        const detail = (isPrevuError(cause) ? cause.message : (cause as Error).message || String(cause)).split('\n')[0];
        return errors.machineNotReady(`SSH and Docker on ${host}:${this.settings.sshPort} do not answer (${detail})`, Math.round(elapsed / 1000), 'the instance may still be installing Docker: retry `prevu up`, or `prevu down` to delete it');
      },
    );
  }

  private async sshDriver(envId: string, instance: Instance, signal?: AbortSignal): Promise<Driver> {
    let driver = this.ssh.get(envId);
    if (!driver) {
      const hostKey = await this.hostKeys(instance.name!, signal);
      if (!hostKey.length) this.progress(`Lightsail reports no SSH host key of ${instance.name} yet: its key is recorded on first use`);
      driver = this.options.sshDriver({ host: instance.publicIpAddress!, port: this.settings.sshPort, user: this.settings.sshUser, ...(this.settings.baseDir ? { baseDir: this.settings.baseDir } : {}), ...(hostKey.length ? { hostKey } : {}) });
      this.ssh.set(envId, driver);
    }
    return driver;
  }

  /**
   * The instance's SSH host keys as AWS witnessed them on the instance (GetInstanceAccessDetails),
   * so even the first connection to a new address checks the key instead of trusting it.
   */
  private async hostKeys(instanceName: string, signal?: AbortSignal): Promise<string[]> {
    const { accessDetails } = await this.call<GetInstanceAccessDetailsCommandOutput>('GetInstanceAccessDetails', signal, () => new GetInstanceAccessDetailsCommand({ instanceName, protocol: 'ssh' }));
    return (accessDetails?.hostKeys ?? []).map((k) => k.fingerprintSHA256 ?? '').filter((f) => f.startsWith('SHA256:') && HOST_KEY_PIN.test(f));
  }

  private async dropSsh(envId: string): Promise<void> {
    const driver = this.ssh.get(envId);
    this.ssh.delete(envId);
    await driver?.close().catch(() => undefined);
  }

  private async availabilityZone(): Promise<string> {
    return this.settings.availabilityZone ?? `${await this.resolvedRegion()}a`;
  }

  private async resolvedRegion(): Promise<string> {
    if (this.region) return this.region;
    try {
      this.region = await this.client.config.region();
    } catch {
      this.region = undefined;
    }
    if (!this.region) throw errors.awsNoRegion();
    return this.region;
  }

  /** Sends one command; any failure becomes the one-line PrevuError that names its cause. */
  private async call<T = unknown>(operation: string, signal: AbortSignal | undefined, make: () => { input: unknown }): Promise<T> {
    const region = await this.resolvedRegion();
    try {
      // The SDK's send() is overloaded per command; the call sites pin T to their command's output.
      return (await this.client.send(make() as never, signal ? { abortSignal: signal } : {})) as T;
    } catch (error) {
      if (signal?.aborted) throw error;
      throw lightsailError(error, {
        operation,
        region,
        availabilityZone: this.settings.availabilityZone ?? `${region}a`,
        bundleId: this.settings.bundleId,
        blueprintId: this.settings.blueprintId,
        endpoint: lightsailEndpoint() ?? `https://lightsail.${region}.amazonaws.com`,
      });
    }
  }

  private progress(message: string): void {
    this.options.onProgress?.(message);
  }
}

/** The endpoint the SDK's chain takes from the environment, when one is set (a stand-in, a proxy). */
function lightsailEndpoint(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_LIGHTSAIL ?? process.env.AWS_ENDPOINT_URL;
}

function tag(instance: Instance, key: string): string | undefined {
  return instance.tags?.find((t) => t.key === key)?.value;
}

function notFound(error: unknown): boolean {
  return isPrevuError(error) && (error.cause as { name?: string } | undefined)?.name === 'NotFoundException';
}

/** `prevu-<profile>-<envId>`: deterministic, so two racing `up`s cannot make two instances. */
export function instanceName(profile: string, envId: string): string {
  return `prevu-${toLabelPart(profile) || 'default'}-${envId}`;
}

/** The wire-format key blob of an OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
function keyBlob(publicKey: string): Buffer {
  const base64 = publicKey.trim().split(/\s+/)[1];
  if (!base64) throw errors.accountKeyUnreadable('not an OpenSSH public key line');
  return Buffer.from(base64, 'base64');
}
