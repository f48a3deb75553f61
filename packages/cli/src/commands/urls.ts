import { Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { urls } from '@prevu/core/envs/inspect';
import { shareUrls, type SharedUrl } from '@prevu/core/envs/share';
import type { UrlRow } from '@prevu/core/url-rows';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { urlTable } from '../url-table.js';

export default class Urls extends PrevuCommand<typeof Urls> {
  static override description = 'Print the URL of every service port of the env';
  static override examples = ['<%= config.bin %> urls', '<%= config.bin %> urls --share --ttl 48', 'PREVU_SHARE_PASSWORD=... <%= config.bin %> urls --share'];
  static override flags = {
    ...projectFlags,
    share: Flags.boolean({ description: 'also print share links that open private URLs in a browser (a login token signed by your account key, for this env only)' }),
    // no `default`: oclif would then apply dependsOn to every run
    ttl: Flags.integer({ description: 'hours a share link stays valid [default: 24]', min: 1, max: 168, dependsOn: ['share'] }),
    password: Flags.string({
      description: 'with --share on a private profile: the links also ask for this password (8+ characters; the browser prompts for it once); the environment variable keeps it out of shell history',
      env: 'PREVU_SHARE_PASSWORD',
    }),
  };

  async run(): Promise<{ envId: string; urls: UrlRow[] | SharedUrl[] }> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    const rows = await urls(this.session(), envId);
    if (!this.flags.share) {
      if (!this.jsonEnabled()) this.log(urlTable(rows));
      return { envId, urls: rows };
    }
    const { password } = this.flags;
    const shared = await shareUrls(this.session(), envId, rows, { ttlHours: this.flags.ttl ?? 24, ...(password !== undefined ? { password } : {}) });
    if (!this.jsonEnabled()) {
      this.log(urlTable(rows));
      const who = password === undefined ? 'anyone holding one can open the env' : 'they open the env with the password';
      this.log(`\nShare links (valid until ${shared[0]?.expiresAt ?? '-'}; ${who}):`);
      for (const s of shared) this.log(`${s.service}:${s.port}  ${s.share}`);
    }
    return { envId, urls: shared };
  }
}
