// Flags that describe a profile (`init`, `profile create`; the driver ones on `up` too). Driver
// settings go in with `--set key=value` and are validated by the driver itself (drivers/index.ts).
import { Flags } from '@oclif/core';
import { createDriver, DRIVER_NAMES } from '@prevu/core/drivers/index';
import { errors } from '@prevu/core/errors';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { type Profile, type ProfileStore, type TunnelServerSettings } from '@prevu/core/profiles';
import { parseTunnelAddress } from '@prevu/core/tunnel-address';
import { HOST_KEY_PIN } from '@prevu/core/ssh-fingerprint';
import { publishProfile } from '@prevu/core/store/shared-profile';
import { parseStoreUrl } from '@prevu/core/store/store-url';

export const driverFlags = {
  driver: Flags.string({ description: 'where envs run: local (this Docker), ssh, lightsail, kube', options: [...DRIVER_NAMES] }),
  host: Flags.string({ description: 'for --driver ssh: the host as user@host:port (same as --set host=...)' }),
  set: Flags.string({ description: 'driver setting key=value (repeatable), e.g. --set host=user@example.com:22', multiple: true }),
};

type DriverFlags = { driver?: string; host?: string; set?: string[] };

export const profileFlags = {
  ...driverFlags,
  driver: Flags.string({ description: 'where envs run: local (this Docker), ssh, lightsail, kube', options: [...DRIVER_NAMES], default: 'local' }),
  'tunnel-server': Flags.string({ description: 'host:port of a tunnel server SSH port, or tls://host:443 for SSH over TLS on its HTTPS port (default: the embedded one on this machine)' }),
  'agent-tunnel-server': Flags.string({ description: 'the tunnel server as the agent on the machine reaches it, when it differs (host:port or tls://host:port)' }),
  'ca-file': Flags.string({ description: "PEM certificate of the CA that issued the tunnel server's TLS certificate (a private CA), trusted besides the system CAs by prevu and the agent" }),
  'tunnel-host-key': Flags.string({ description: 'pin the tunnel server\'s SSH host key (SHA256:... or "ssh-ed25519 AAAA..."); without it the key is recorded on first contact' }),
  private: Flags.boolean({ description: 'URLs need an access token (prevu JWT) or a login' }),
  'max-envs': Flags.integer({ description: 'most envs of this profile at once: `up` of one more is refused (or --replace-oldest removes the oldest)', min: 1 }),
  store: Flags.string({ description: 'share the profile and its envs\' state through an S3 bucket, e.g. --store s3://my-team-prevu/previews (the account key stays here)' }),
};

function driverOptions({ host, set: pairs = [] }: DriverFlags): Record<string, unknown> {
  const options: Record<string, unknown> = host ? { host } : {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i < 1) throw errors.setNotKeyValue(pair);
    const raw = pair.slice(i + 1);
    // numbers and booleans keep their type; anything else is a string
    options[pair.slice(0, i)] = /^(-?\d+(\.\d+)?|true|false)$/.test(raw) ? JSON.parse(raw) : raw;
  }
  return options;
}

/** The driver validates its settings now, not at the first `up`. */
async function checkDriver(store: ProfileStore, profile: Profile): Promise<void> {
  const driver = await createDriver({ profile, profileDir: store.profileDir(profile.name), key: store.key(profile.name) });
  await driver.close();
}

/** --ca-file: an absolute path to a PEM certificate, checked now rather than at the first TLS handshake. */
function caFile(file: string): string {
  const path = resolve(file);
  try {
    new X509Certificate(readFileSync(path));
  } catch (error) {
    throw errors.caFileUnreadable(file, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  return path;
}

export async function createProfile(store: ProfileStore, name: string, flags: DriverFlags & { driver: string; 'tunnel-server'?: string; 'agent-tunnel-server'?: string; 'tunnel-host-key'?: string; private: boolean; 'max-envs'?: number; store?: string; 'ca-file'?: string }): Promise<Profile> {
  const pin = flags['tunnel-host-key'];
  for (const flag of ['tunnel-server', 'agent-tunnel-server'] as const) {
    const address = flags[flag];
    if (address !== undefined && !parseTunnelAddress(address)) throw errors.tunnelAddressInvalid(`--${flag}`, address);
  }
  const tunnelServer: TunnelServerSettings = flags['tunnel-server']
    ? {
        type: 'remote',
        address: flags['tunnel-server'],
        ...(flags['agent-tunnel-server'] ? { agentAddress: flags['agent-tunnel-server'] } : {}),
        ...(pin ? { hostKey: pin.trim(), hostKeyPinned: true } : {}),
        ...(flags['ca-file'] ? { caFile: caFile(flags['ca-file']) } : {}),
      }
    : { type: 'embedded' };
  if (pin !== undefined && tunnelServer.type === 'embedded') throw errors.tunnelPinWithoutServer();
  if (flags['ca-file'] !== undefined && tunnelServer.type === 'embedded') throw errors.caFileWithoutServer();
  if (pin !== undefined && !HOST_KEY_PIN.test(pin.trim())) throw errors.hostKeyPinInvalid(pin);
  if (flags.store !== undefined) parseStoreUrl(flags.store);
  const profile = store.create({ name, driver: flags.driver, driverOptions: driverOptions(flags), tunnelServer, private: flags.private, ...(flags['max-envs'] !== undefined ? { lifecycle: { maxEnvs: flags['max-envs'] } } : {}) });
  try {
    await checkDriver(store, profile);
    return flags.store === undefined ? profile : await publishProfile(store, name, flags.store);
  } catch (error) {
    store.remove(name);
    throw error;
  }
}

/**
 * `up --driver/--host/--set`: the profile's driver settings change for this and later runs
 * (stored once the driver accepts them). Another driver starts from its own defaults.
 */
export async function applyDriverFlags(store: ProfileStore, profile: Profile, flags: DriverFlags): Promise<Profile> {
  if (flags.driver === undefined && flags.host === undefined && !flags.set?.length) return profile;
  const driver = flags.driver ?? profile.driver;
  const base = driver === profile.driver ? profile.driverOptions : {};
  const updated: Profile = { ...profile, driver, driverOptions: { ...base, ...driverOptions(flags) } };
  await checkDriver(store, updated);
  store.write(updated);
  return updated;
}
