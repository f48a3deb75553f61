import { Args } from '@oclif/core';
import { removeShare } from '@prevu/core/envs/share';
import { PrevuCommand } from '../../base.js';

export default class ShareRm extends PrevuCommand<typeof ShareRm> {
  static override description = 'Revoke a share link: the tunnel server refuses it at once, sessions already opened with it included';
  static override args = { id: Args.string({ description: 'the link id (`prevu share ls`)', required: true }) };

  async run(): Promise<{ revoked: string }> {
    await removeShare(this.session(), this.args.id);
    if (!this.jsonEnabled()) this.log(`revoked share link ${this.args.id}`);
    return { revoked: this.args.id };
  }
}
