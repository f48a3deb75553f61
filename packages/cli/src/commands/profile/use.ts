import { Args } from '@oclif/core';
import { PrevuCommand } from '../../base.js';

export default class ProfileUse extends PrevuCommand<typeof ProfileUse> {
  static override description = 'Make a profile the current one';
  static override args = { name: Args.string({ description: 'profile name', required: true }) };

  async run(): Promise<{ current: string }> {
    this.store.read(this.args.name); // unknown names fail here
    this.store.setCurrent(this.args.name);
    if (!this.jsonEnabled()) this.log(`using profile ${this.args.name}`);
    return { current: this.args.name };
  }
}
