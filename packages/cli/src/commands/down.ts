import { Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { down, keptVolumesLine, type DownResult } from '@prevu/core/envs/down';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';

export default class Down extends PrevuCommand<typeof Down> {
  static override description = 'Remove the env: its containers, networks, tunnels (and its machine when the driver made it)';
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --id demo --volumes'];
  static override flags = {
    ...projectFlags,
    volumes: Flags.boolean({ description: 'also remove the named volumes of the project (kept by default, and named)' }),
  };

  async run(): Promise<DownResult> {
    const session = this.session(this.jsonEnabled() ? (event) => this.logJson(event) : undefined);
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    const result = await down(session, envId, { volumes: this.flags.volumes });
    if (!this.jsonEnabled()) {
      this.log(`removed ${result.envId} (${result.project})`);
      const kept = keptVolumesLine(result);
      if (kept) this.log(kept);
    }
    return result;
  }
}
