// The driver registry: the profile names a driver, this makes it. One case per driver; each
// driver validates its own settings (profile.driverOptions) and fails with one clear line.
import { join } from 'node:path';
import { errors } from '../errors.js';
import type { AccountKey, Profile } from '../profiles.js';
import type { Driver } from './driver.js';
import { LocalDriver } from './local.js';
import { createSshDriver, type SshSettingsInput } from './ssh.js';

export interface DriverContext {
  profile: Profile;
  /** The profile's directory (known_hosts, caches a driver keeps). */
  profileDir: string;
  key: AccountKey;
}

export const DRIVER_NAMES = ['local', 'ssh'] as const;

export async function createDriver(context: DriverContext): Promise<Driver> {
  switch (context.profile.driver) {
    case 'local':
      return new LocalDriver();
    case 'ssh':
      // The account key logs in unless the profile names another; host keys go in the profile's known_hosts.
      return createSshDriver({ privateKeyPath: context.key.privateKeyFile, ...context.profile.driverOptions, knownHostsPath: join(context.profileDir, 'known_hosts') } as SshSettingsInput);
    default:
      throw errors.invalidInput(`profile "${context.profile.name}" uses the unknown driver "${context.profile.driver}"`, `use one of: ${DRIVER_NAMES.join(', ')}`);
  }
}
