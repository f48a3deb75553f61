import { Flags } from '@oclif/core';
import { PrevuCommand } from '../base.js';
import { createProfile, profileFlags } from '../profile-flags.js';

export default class Init extends PrevuCommand<typeof Init> {
  static override description = 'Create a profile (account key pair, tunnel server, driver) and make it the current one';
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --name work --driver ssh --set host=me@build.example.com:22 --tunnel-server tunnel.example.com:2222',
    '<%= config.bin %> init --name team --driver ssh --set host=me@build.example.com:22 --tunnel-server tunnel.example.com:2222 --store s3://my-team-prevu/previews',
  ];
  static override flags = {
    name: Flags.string({ description: 'profile name', default: 'default' }),
    ...profileFlags,
  };

  async run(): Promise<{ profile: string; accountId: string; publicKey: string }> {
    const profile = await createProfile(this.store, this.flags.name, this.flags);
    this.store.setCurrent(profile.name);
    const key = this.store.key(profile.name);
    if (!this.jsonEnabled()) {
      this.log(`profile ${profile.name} created and in use (driver ${profile.driver}, tunnel server ${profile.tunnelServer.type === 'embedded' ? 'embedded' : profile.tunnelServer.address})`);
      this.log(`account ${key.accountId}, key ${key.privateKeyFile}`);
      if (profile.store) this.log(`shared through ${profile.store}: give CI and other machines the key above as a secret (PREVU_ACCOUNT_KEY); the store never holds it`);
    }
    return { profile: profile.name, accountId: key.accountId, publicKey: key.publicKey };
  }
}
