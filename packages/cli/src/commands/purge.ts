import { createInterface } from 'node:readline/promises';
import { Flags } from '@oclif/core';
import { down, type DownResult } from '@prevu/core/envs/down';
import { list } from '@prevu/core/envs/list';
import { PrevuCommand } from '../base.js';

export default class Purge extends PrevuCommand<typeof Purge> {
  static override description = 'Remove every env of the profile (cloud machines included); asks first at a terminal';
  static override flags = {
    force: Flags.boolean({ description: 'do not ask for confirmation' }),
  };

  async run(): Promise<{ removed: DownResult[] }> {
    const session = this.session();
    const envs = await list(session);
    // At a terminal a human confirms; scripts and CI (no TTY) are not stopped by a prompt nobody answers.
    if (envs.length && !this.flags.force && !this.jsonEnabled() && process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`delete ${envs.length} env(s) of profile ${session.profile.name} (${envs.map((e) => e.envId).join(', ')})? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        this.log('nothing removed');
        return { removed: [] };
      }
    }
    const removed: DownResult[] = [];
    for (const env of envs) {
      removed.push(await down(session, env.envId, { volumes: true }));
      if (!this.jsonEnabled()) this.log(`removed ${env.envId}`);
    }
    if (!this.jsonEnabled() && !removed.length) this.log(`no envs in profile ${session.profile.name}`);
    return { removed };
  }
}
