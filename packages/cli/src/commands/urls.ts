import type { UrlRow } from '@prevu/core/deploy';
import { targetEnvId, urls } from '@prevu/core/environments';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { urlTable } from '../url-table.js';

export default class Urls extends PrevuCommand<typeof Urls> {
  static override description = 'Print the URL of every service port of the env';
  static override flags = { ...projectFlags };

  async run(): Promise<{ envId: string; urls: UrlRow[] }> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    const rows = await urls(this.session(), envId);
    if (!this.jsonEnabled()) this.log(urlTable(rows));
    return { envId, urls: rows };
  }
}
