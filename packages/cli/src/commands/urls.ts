import { Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { urls } from '@prevu/core/envs/inspect';
import { createShare, type SharedUrl } from '@prevu/core/envs/share';
import type { UrlRow } from '@prevu/core/url-rows';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { describeShare, sharePassword, shareTtl } from '../share-flags.js';
import { urlTable } from '../url-table.js';

export default class Urls extends PrevuCommand<typeof Urls> {
  static override description = 'Print the URL of every service port of the env';
  static override examples = ['<%= config.bin %> urls', '<%= config.bin %> urls --share --ttl 48', 'PREVU_SHARE_PASSWORD=... <%= config.bin %> urls --share'];
  static override flags = {
    ...projectFlags,
    share: Flags.boolean({ description: 'also make a share link for the whole env (the shortcut of `prevu share <env>`; `prevu share ls` lists it)' }),
    // no `default`: oclif would then apply dependsOn to every run
    ttl: Flags.integer({ ...shareTtl, dependsOn: ['share'] }),
    password: sharePassword,
  };

  async run(): Promise<{ envId: string; urls: UrlRow[] | SharedUrl[]; shareId?: string }> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    const rows = await urls(this.session(), envId);
    if (!this.flags.share) {
      if (!this.jsonEnabled()) this.log(urlTable(rows));
      return { envId, urls: rows };
    }
    const { password } = this.flags;
    const link = await createShare(this.session(), envId, rows, { ttlHours: this.flags.ttl ?? 24, ...(password !== undefined ? { password } : {}) });
    if (!this.jsonEnabled()) this.log([urlTable(rows), '', ...describeShare(link)].join('\n'));
    return { envId, urls: link.urls, shareId: link.id };
  }
}
