import { down, list, type DownResult } from '@prevu/core/deploy';
import { PrevuCommand } from '../base.js';

export default class Purge extends PrevuCommand<typeof Purge> {
  static override description = 'Remove every env of the profile';

  async run(): Promise<{ removed: DownResult[] }> {
    const session = this.session();
    const removed: DownResult[] = [];
    for (const env of await list(session)) {
      removed.push(await down(session, env.envId, { volumes: true }));
      if (!this.jsonEnabled()) this.log(`removed ${env.envId}`);
    }
    if (!this.jsonEnabled() && !removed.length) this.log(`no envs in profile ${session.profile.name}`);
    return { removed };
  }
}
