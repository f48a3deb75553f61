import { readFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { errors } from '@prevu/core/errors';
import { importProfile } from '@prevu/core/store/shared-profile';
import { PrevuCommand } from '../../base.js';

export default class ProfileImport extends PrevuCommand<typeof ProfileImport> {
  static override description = 'Use a profile shared through an S3 store (made by `prevu init --store`): its envs are listed and removed from here too. Makes it the current one';
  static override examples = ['PREVU_ACCOUNT_KEY="$(cat key)" <%= config.bin %> profile import s3://my-team-prevu/previews', '<%= config.bin %> profile import s3://my-team-prevu/previews --key-file ~/secrets/prevu_team'];
  static override args = { url: Args.string({ description: 'the store, s3://<bucket>/<prefix>', required: true }) };
  static override flags = {
    name: Flags.string({ description: "the profile's name here (default: its name in the store)" }),
    'key-file': Flags.string({ description: "the profile's account private key (default: the text of PREVU_ACCOUNT_KEY)" }),
  };

  async run(): Promise<{ profile: string; accountId: string; store: string }> {
    const file = this.flags['key-file'];
    let privateKey = process.env.PREVU_ACCOUNT_KEY;
    if (file !== undefined) {
      try {
        privateKey = readFileSync(file, 'utf8');
      } catch (error) {
        throw errors.storeKeyFileUnreadable(file, (error as Error).message);
      }
    }
    const profile = await importProfile(this.store, this.args.url, { ...(privateKey ? { privateKey } : {}), ...(this.flags.name ? { name: this.flags.name } : {}) });
    this.store.setCurrent(profile.name);
    const { accountId } = this.store.key(profile.name);
    if (!this.jsonEnabled()) this.log(`profile ${profile.name} imported from ${profile.store} and in use (account ${accountId}, driver ${profile.driver})`);
    return { profile: profile.name, accountId, store: profile.store! };
  }
}
