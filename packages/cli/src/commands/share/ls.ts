import { Args } from '@oclif/core';
import { listShares } from '@prevu/core/envs/share';
import type { ShareLinkInfo } from '@prevu/core/tunnel-protocol';
import { PrevuCommand } from '../../base.js';
import { table } from '../../table.js';

const when = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export default class ShareLs extends PrevuCommand<typeof ShareLs> {
  static override description = "List the account's live share links (every env, or one)";
  static override args = { env: Args.string({ description: 'only this env' }) };

  async run(): Promise<{ shares: ShareLinkInfo[] }> {
    const shares = await listShares(this.session(), this.args.env);
    if (!this.jsonEnabled()) {
      if (!shares.length) this.log('no live share links: `prevu share <env>` makes one');
      else this.log(table(['ID', 'ENV', 'SERVICE', 'PASSWORD', 'EXPIRES'], shares.map((s) => [s.id, s.envId, s.service ?? '(all)', s.password ? 'yes' : 'no', when(s.expiresAt)])));
    }
    return { shares };
  }
}
