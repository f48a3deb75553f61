import { Args } from '@oclif/core';
import { EnvStateStore } from '@prevu/core/env-state';
import { errors } from '@prevu/core/errors';
import { PrevuCommand } from '../../base.js';

export default class ProfileRm extends PrevuCommand<typeof ProfileRm> {
  static override description = 'Delete a profile and its account key (its envs must be removed first: `prevu purge`)';
  static override args = { name: Args.string({ description: 'profile name', required: true }) };

  async run(): Promise<{ removed: string }> {
    this.store.read(this.args.name);
    const envs = await new EnvStateStore(this.store, this.args.name).list();
    if (envs.length) {
      throw errors.profileHasEnvs(this.args.name, envs.length, envs.map((e) => e.envId).join(', '));
    }
    this.store.remove(this.args.name);
    if (!this.jsonEnabled()) this.log(`removed profile ${this.args.name}`);
    return { removed: this.args.name };
  }
}
