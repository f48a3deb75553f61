// The driver registry: the profile names a driver, this makes it. One case per driver; each
// driver validates its own settings (profile.driverOptions) and fails with one clear line.
import { errors } from '../errors.js';
import type { AccountKey, Profile } from '../profiles.js';
import type { Driver } from './driver.js';
import { LocalDriver } from './local.js';

export interface DriverContext {
  profile: Profile;
  /** The profile's directory (known_hosts, caches a driver keeps). */
  profileDir: string;
  key: AccountKey;
}

export const DRIVER_NAMES = ['local'] as const;

export async function createDriver(context: DriverContext): Promise<Driver> {
  switch (context.profile.driver) {
    case 'local':
      return new LocalDriver();
    default:
      throw errors.invalidInput(`profile "${context.profile.name}" uses the unknown driver "${context.profile.driver}"`, `use one of: ${DRIVER_NAMES.join(', ')}`);
  }
}
