import { Args, Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { urls } from '@prevu/core/envs/inspect';
import { createShare, type ShareLink } from '@prevu/core/envs/share';
import { PrevuCommand } from '../../base.js';
import { composeSource } from '../../project-flags.js';
import { describeShare, sharePassword, shareTtl } from '../../share-flags.js';

export default class Share extends PrevuCommand<typeof Share> {
  static override description = "Make a share link: a login link that opens the env's (or one service's) private URLs in a browser until it expires or is revoked";
  static override examples = ['<%= config.bin %> share shop-main', '<%= config.bin %> share shop-main web --ttl 48', 'PREVU_SHARE_PASSWORD=... <%= config.bin %> share shop-main'];
  static override args = {
    env: Args.string({ description: 'the env id (as `prevu ls` lists it)', required: true }),
    service: Args.string({ description: "only this service's URLs" }),
  };
  static override flags = { ttl: Flags.integer(shareTtl), password: sharePassword };

  async run(): Promise<ShareLink> {
    const envId = await targetEnvId({ id: this.args.env, source: composeSource({}) });
    const rows = await urls(this.session(), envId);
    const { password } = this.flags;
    const link = await createShare(this.session(), envId, rows, {
      ttlHours: this.flags.ttl ?? 24,
      ...(this.args.service !== undefined ? { service: this.args.service } : {}),
      ...(password !== undefined ? { password } : {}),
    });
    if (!this.jsonEnabled()) this.log(describeShare(link).join('\n'));
    return link;
  }
}
