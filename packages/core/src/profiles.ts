// Profiles: where prevu deploys (driver and its settings), which tunnel server it uses, and the
// account key. Stored under $XDG_CONFIG_HOME/prevu (default ~/.config/prevu):
//   config.json                        { "current": "<profile>" }
//   profiles/<name>/profile.json       validated with zod on every read
//   profiles/<name>/id_ed25519[.pub]   the account key pair (private key mode 0600)
//   profiles/<name>/envs/<envId>/      state.json, the generated overlay (see up/context.ts)
// A store profile (`init --store s3://...`) keeps its profile.json and every env's state.json in
// the bucket too (store/shared-profile.ts); its key stays on this machine only.
// With no profile at all, the profile `local` is made on first use: local driver, embedded
// tunnel server. Every other name must exist.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { errors } from './errors.js';
import { accountIdFromKeyBlob } from './names.js';
import { HOST_KEY_PIN, HOST_KEY_PIN_HINT } from './ssh-fingerprint.js';
import { parseTunnelAddress, TUNNEL_ADDRESS_HINT } from './tunnel-address.js';
import { ed25519KeyPair } from './ssh-keys.js';

export const DEFAULT_PROFILE = 'local';
const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

const isTunnelAddress = (address: string) => parseTunnelAddress(address) !== undefined;

export const tunnelServerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('embedded') }),
  z.object({
    type: z.literal('remote'),
    /** `host:port` of the server's SSH port, or `tls://host:port` of its HTTPS port (SSH over TLS), as the CLI reaches it. */
    address: z.string().refine(isTunnelAddress, TUNNEL_ADDRESS_HINT),
    /** The same as the agent on the machine reaches it, when that differs (default: address). */
    agentAddress: z.string().refine(isTunnelAddress, TUNNEL_ADDRESS_HINT).optional(),
    /** A PEM CA (absolute path) trusted besides the system CAs for the server's TLS: tls:// and the https URLs, by the CLI and the agent. */
    caFile: z.string().optional(),
    /** The server's host key (`ssh-ed25519 AAAA...` or `SHA256:...`): given (a pin), or recorded on first contact; checked after. */
    hostKey: z.string().regex(HOST_KEY_PIN, HOST_KEY_PIN_HINT).optional(),
    /** true: hostKey was given (--tunnel-host-key, the Action input), not recorded on first contact. */
    hostKeyPinned: z.boolean().optional(),
  }),
]);

export const profileSchema = z.object({
  version: z.literal(1),
  name: z.string().regex(NAME),
  driver: z.string().min(1),
  /** Settings of the driver, validated by the driver itself (see drivers/index.ts). */
  driverOptions: z.record(z.string(), z.unknown()).default({}),
  tunnelServer: tunnelServerSchema,
  /** s3://bucket/prefix: the profile and its envs' state are shared there (store/); absent: this machine's folder. */
  store: z.string().startsWith('s3://').optional(),
  /** Services are private (need a token) unless false. */
  private: z.boolean().default(false),
  /** Lifecycle defaults of the envs made with this profile (issue 16; `up` flags override). */
  lifecycle: z
    .object({
      /** TTL in seconds; null: never (only for pinned envs). */
      ttlSeconds: z.number().int().positive().nullable().optional(),
      /** Idle seconds before the services sleep; 0 or absent: never. */
      sleepAfterSeconds: z.number().int().nonnegative().optional(),
      /** Most envs of this profile at once; absent: no limit. */
      maxEnvs: z.number().int().positive().optional(),
    })
    .optional(),
  createdAt: z.string(),
});

export type TunnelServerSettings = z.infer<typeof tunnelServerSchema>;
export type Profile = z.infer<typeof profileSchema>;
const configSchema = z.object({ current: z.string().optional() });

export interface AccountKey {
  privateKey: string;
  publicKey: string;
  /** Path of the private key file (mode 0600): mounted into the agent as a compose secret. */
  privateKeyFile: string;
  accountId: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'prevu');
}

/** The SSH wire blob of an OpenSSH public key line. */
function publicKeyBlob(publicKey: string): Buffer {
  const parsed = ssh2.utils.parseKey(publicKey);
  if (parsed instanceof Error) throw errors.accountKeyUnreadable(parsed.message);
  return (Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH();
}

export function accountIdOfPublicKey(publicKey: string): string {
  return accountIdFromKeyBlob(publicKeyBlob(publicKey));
}

export class ProfileStore {
  constructor(readonly root: string = configDir()) {}

  profileDir(name: string): string {
    return join(this.root, 'profiles', name);
  }

  envDir(profile: string, envId: string): string {
    return join(this.profileDir(profile), 'envs', envId);
  }

  names(): string[] {
    const dir = join(this.root, 'profiles');
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'profile.json'))).sort();
  }

  exists(name: string): boolean {
    return existsSync(join(this.profileDir(name), 'profile.json'));
  }

  current(): string | undefined {
    const file = join(this.root, 'config.json');
    if (!existsSync(file)) return undefined;
    const parsed = configSchema.safeParse(readJson(file));
    if (!parsed.success) throw errors.configInvalid(file);
    return parsed.data.current;
  }

  setCurrent(name: string | undefined): void {
    mkdirSync(this.root, { recursive: true });
    writeFileSync(join(this.root, 'config.json'), `${JSON.stringify(name ? { current: name } : {}, null, 2)}\n`);
  }

  read(name: string): Profile {
    if (!NAME.test(name) || !this.exists(name)) throw errors.unknownProfile(name);
    const file = join(this.profileDir(name), 'profile.json');
    const parsed = profileSchema.safeParse(readJson(file));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw errors.profileInvalid(name, `${issue?.path.join('.')}: ${issue?.message}`, file);
    }
    return parsed.data;
  }

  /**
   * The profile to use: the given name, else PREVU_PROFILE, else the current one, else `local`
   * (made on first use). A name that does not exist is an error.
   */
  resolve(name?: string, env: NodeJS.ProcessEnv = process.env): Profile {
    const chosen = name || env.PREVU_PROFILE || this.current();
    if (chosen) return this.read(chosen);
    if (!this.exists(DEFAULT_PROFILE)) {
      return this.create({ name: DEFAULT_PROFILE, driver: 'local', tunnelServer: { type: 'embedded' } });
    }
    return this.read(DEFAULT_PROFILE);
  }

  create(input: { name: string; driver: string; driverOptions?: Record<string, unknown>; tunnelServer: TunnelServerSettings; private?: boolean; lifecycle?: Profile['lifecycle'] }): Profile {
    if (!NAME.test(input.name)) throw errors.profileNameInvalid(input.name);
    if (this.exists(input.name)) throw errors.profileExists(input.name);
    const profile = profileSchema.parse({
      version: 1,
      name: input.name,
      driver: input.driver,
      driverOptions: input.driverOptions ?? {},
      tunnelServer: input.tunnelServer,
      private: input.private ?? false,
      ...(input.lifecycle ? { lifecycle: input.lifecycle } : {}),
      createdAt: new Date().toISOString(),
    });
    const pair = ed25519KeyPair(`prevu-${input.name}`);
    this.writeKey(input.name, pair.private, pair.public);
    this.write(profile);
    return profile;
  }

  /** Writes the account key pair of a profile (the private key mode 0600, in a 0700 folder). */
  writeKey(name: string, privateKey: string, publicKey: string): void {
    const dir = this.profileDir(name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'id_ed25519'), privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    chmodSync(join(dir, 'id_ed25519'), 0o600); // a file that was there keeps its mode on write: set it
    writeFileSync(join(dir, 'id_ed25519.pub'), `${publicKey.trim()}\n`, { mode: 0o644 });
  }

  write(profile: Profile): void {
    const parsed = profileSchema.parse(profile);
    writeFileSync(join(this.profileDir(parsed.name), 'profile.json'), `${JSON.stringify(parsed, null, 2)}\n`);
  }

  /** The profile's account key pair, checked: both halves readable, parseable, and one pair. */
  key(name: string): AccountKey {
    const dir = this.profileDir(name);
    const privateKeyFile = join(dir, 'id_ed25519');
    const publicKeyFile = `${privateKeyFile}.pub`;
    if (!existsSync(privateKeyFile)) throw errors.profileNoKey(name, privateKeyFile);
    const read = (file: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        throw errors.accountKeyUnreadable(`${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    };
    const privateKey = read(privateKeyFile);
    const publicKey = read(publicKeyFile).trim();
    const parsed = ssh2.utils.parseKey(privateKey);
    if (parsed instanceof Error) throw errors.accountKeyUnreadable(`${privateKeyFile}: ${parsed.message}`);
    const blob = publicKeyBlob(publicKey);
    // a pair mixed up by hand would sign tokens the server checks against another key
    if (!(Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH().equals(blob)) throw errors.accountKeyUnreadable(`${publicKeyFile} is not the public half of ${privateKeyFile}`);
    return { privateKey, publicKey, privateKeyFile, accountId: accountIdFromKeyBlob(blob) };
  }

  remove(name: string): void {
    if (!this.exists(name)) throw errors.unknownProfile(name);
    rmSync(this.profileDir(name), { recursive: true, force: true });
    if (this.current() === name) this.setCurrent(undefined);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw errors.jsonInvalid(file, (error as Error).message);
  }
}
