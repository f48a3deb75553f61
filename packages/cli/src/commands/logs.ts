import { Args, Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { logs } from '@prevu/core/envs/logs';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlagsNoShort } from '../project-flags.js';

export default class Logs extends PrevuCommand<typeof Logs> {
  static override description = "Print the env's logs (all services, or one)";
  static override enableJsonFlag = false;
  static override args = { service: Args.string({ description: 'only this service' }) };
  static override flags = {
    ...projectFlagsNoShort,
    follow: Flags.boolean({ char: 'f', description: 'keep printing new lines (Ctrl-C stops)' }),
    tail: Flags.integer({ description: 'only the last N lines of each service', min: 0 }),
  };

  async run(): Promise<void> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    await logs(this.session(), envId, {
      ...(this.args.service ? { service: this.args.service } : {}),
      follow: this.flags.follow,
      ...(this.flags.tail !== undefined ? { tail: this.flags.tail } : {}),
      onOutput: (chunk) => process.stdout.write(chunk),
    });
  }
}
