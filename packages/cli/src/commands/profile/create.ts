import { Args } from '@oclif/core';
import { PrevuCommand } from '../../base.js';
import { createProfile, profileFlags } from '../../profile-flags.js';

export default class ProfileCreate extends PrevuCommand<typeof ProfileCreate> {
  static override description = 'Create a profile (does not switch to it; see `prevu profile use`)';
  static override args = { name: Args.string({ description: 'profile name', required: true }) };
  static override flags = { ...profileFlags };

  async run(): Promise<{ profile: string; accountId: string }> {
    const profile = await createProfile(this.store, this.args.name, this.flags);
    const { accountId } = this.store.key(profile.name);
    if (!this.jsonEnabled()) this.log(`profile ${profile.name} created (account ${accountId})`);
    return { profile: profile.name, accountId };
  }
}
