// Flags that describe a profile (`init`, `profile create`). Driver settings go in with
// `--set key=value` and are validated by the driver itself (drivers/index.ts).
import { Flags } from '@oclif/core';
import { createDriver } from '@prevu/core/drivers/index';
import { errors } from '@prevu/core/errors';
import type { Profile, ProfileStore, TunnelServerSettings } from '@prevu/core/profiles';

export const profileFlags = {
  driver: Flags.string({ description: 'where envs run: local (this Docker), ssh, lightsail', default: 'local' }),
  'tunnel-server': Flags.string({ description: 'host:port of a tunnel server SSH port (default: the embedded one on this machine)' }),
  'agent-tunnel-server': Flags.string({ description: 'host:port of the tunnel server as the agent on the machine reaches it, when it differs' }),
  private: Flags.boolean({ description: 'URLs need an access token (prevu JWT) or a login' }),
  host: Flags.string({ description: 'for --driver ssh: the host as user@host:port (same as --set host=...)' }),
  set: Flags.string({ description: 'driver setting key=value (repeatable), e.g. --set host=user@example.com:22', multiple: true }),
};

function driverOptions(pairs: string[] = []): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i < 1) throw errors.invalidInput(`--set ${pair} is not key=value`, 'write it like --set host=user@example.com:22');
    const raw = pair.slice(i + 1);
    // numbers and booleans keep their type; anything else is a string
    options[pair.slice(0, i)] = /^(-?\d+(\.\d+)?|true|false)$/.test(raw) ? JSON.parse(raw) : raw;
  }
  return options;
}

export async function createProfile(store: ProfileStore, name: string, flags: { driver: string; 'tunnel-server'?: string; 'agent-tunnel-server'?: string; private: boolean; host?: string; set?: string[] }): Promise<Profile> {
  const tunnelServer: TunnelServerSettings = flags['tunnel-server']
    ? { type: 'remote', address: flags['tunnel-server'], ...(flags['agent-tunnel-server'] ? { agentAddress: flags['agent-tunnel-server'] } : {}) }
    : { type: 'embedded' };
  if (tunnelServer.type === 'remote' && !/^[^\s:]+:\d{1,5}$/.test(tunnelServer.address)) {
    throw errors.invalidInput(`--tunnel-server ${tunnelServer.address} is not host:port`, 'pass the SSH address of the tunnel server, e.g. tunnel.example.com:2222');
  }
  const options = { ...(flags.host ? { host: flags.host } : {}), ...driverOptions(flags.set) };
  const profile = store.create({ name, driver: flags.driver, driverOptions: options, tunnelServer, private: flags.private });
  try {
    // the driver validates its settings now, not at the first `up`
    const driver = await createDriver({ profile, profileDir: store.profileDir(name), key: store.key(name) });
    await driver.close();
  } catch (error) {
    store.remove(name);
    throw error;
  }
  return profile;
}
