// The driver registry: the profile names a driver, this makes it. One case per driver; each
// driver validates its own settings (profile.driverOptions) and fails with one clear line.
import { join } from 'node:path';
import { errors } from '../errors.js';
import type { AccountKey, Profile } from '../profiles.js';
import type { Driver } from './driver.js';
import { pinFingerprint } from '../ssh-fingerprint.js';
import { forgetHost, recordedKeyTypes } from './known-hosts.js';
import { LocalDriver } from './local.js';
import { createSshDriver, parseSshHost, type SshSettingsInput } from './ssh.js';

export interface DriverContext {
  profile: Profile;
  /** The profile's directory (known_hosts, caches a driver keeps). */
  profileDir: string;
  key: AccountKey;
  /** Progress lines of long driver work (a cloud machine booting), shown by the up step. */
  onProgress?: (line: string) => void;
}

export const DRIVER_NAMES = ['local', 'ssh', 'lightsail', 'kube'] as const;

/** How the profile's machines' SSH host keys are checked, for `prevu doctor`. */
export function machineHostKeys(context: Pick<DriverContext, 'profile' | 'profileDir'>): string {
  const options = context.profile.driverOptions;
  switch (context.profile.driver) {
    case 'ssh': {
      const pins = [options.hostKey ?? []].flat() as string[];
      if (pins.length) return `ssh host pinned (${pins.map(pinFingerprint).join(', ')})`;
      const knownHosts = join(context.profileDir, 'known_hosts');
      let recorded = false;
      try {
        const { host, port } = parseSshHost(String(options.host));
        recorded = recordedKeyTypes(knownHosts, host, Number(options.port ?? port ?? 22)).length > 0;
      } catch {
        // an unparsable host is the driver check's to report
      }
      return `ssh host ${recorded ? `recorded on first use in ${knownHosts}` : 'not contacted yet: recorded on first use'} (pin it: --set hostKey=SHA256:...)`;
    }
    case 'lightsail':
      return 'Lightsail instances pinned to the host keys AWS reports (GetInstanceAccessDetails; recorded on first use while it reports none)';
    case 'kube':
      return 'Kubernetes pods reached through the API server (TLS and credentials as the kubeconfig says): no SSH';
    default:
      return 'machine is this one: no SSH';
  }
}

export async function createDriver(context: DriverContext): Promise<Driver> {
  switch (context.profile.driver) {
    case 'local':
      return new LocalDriver();
    case 'ssh':
      // The account key logs in unless the profile names another; host keys go in the profile's known_hosts.
      return createSshDriver({ privateKeyPath: context.key.privateKeyFile, ...context.profile.driverOptions, knownHostsPath: join(context.profileDir, 'known_hosts') } as SshSettingsInput);
    case 'lightsail': {
      // loaded here: the AWS SDK takes ~150 ms to import, which no other command should pay
      const { LightsailDriver } = await import('./lightsail.js');
      // One ssh driver per instance, logging in with the account key (imported as the key pair).
      const knownHostsPath = join(context.profileDir, 'known_hosts');
      return new LightsailDriver({
        profile: context.profile.name,
        settings: context.profile.driverOptions,
        publicKey: context.key.publicKey,
        sshDriver: (target) => createSshDriver({ ...target, privateKeyPath: context.key.privateKeyFile, knownHostsPath }),
        forgetHostKey: (host, port) => forgetHost(knownHostsPath, host, port),
        ...(context.onProgress ? { onProgress: context.onProgress } : {}),
      });
    }
    case 'kube': {
      // loaded here: @kubernetes/client-node is as heavy to import as the AWS SDK
      const { KubeDriver } = await import('./kube.js');
      return new KubeDriver({ profile: context.profile.name, settings: context.profile.driverOptions, ...(context.onProgress ? { onProgress: context.onProgress } : {}) });
    }
    default:
      throw errors.unknownDriver(context.profile.name, context.profile.driver, DRIVER_NAMES.join(', '));
  }
}
