import { Args } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { setPinned, type PinResult } from '@prevu/core/envs/pin';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';

export default class Pin extends PrevuCommand<typeof Pin> {
  static override description = 'Exempt the env from its TTL and from idle sleep (wakes it if it sleeps or expired)';
  static override examples = ['<%= config.bin %> pin', '<%= config.bin %> pin demo'];
  static override args = { env: Args.string({ description: 'the env id [default: the env of this directory, or --id]' }) };
  static override flags = { ...projectFlags };

  /** `prevu unpin` is this command with false. */
  protected readonly pinned: boolean = true;

  async run(): Promise<PinResult> {
    const id = this.args.env ?? this.flags.id;
    const envId = await targetEnvId({ ...(id !== undefined ? { id } : {}), source: composeSource(this.flags) });
    const result = await setPinned(this.session(), envId, this.pinned);
    if (!this.jsonEnabled()) this.log(this.done(result));
    return result;
  }

  protected done(result: PinResult): string {
    return `pinned ${result.envId}: it neither expires nor sleeps until \`prevu unpin ${result.envId}\``;
  }
}
