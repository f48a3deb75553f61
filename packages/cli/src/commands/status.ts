import { targetEnvId } from '@prevu/core/envs/common';
import { status, type StatusResult } from '@prevu/core/envs/inspect';
import { describeEvent } from '@prevu/core/events';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { table } from '../table.js';
import { urlTable } from '../url-table.js';

export default class Status extends PrevuCommand<typeof Status> {
  static override description = "The env's services, their health, URLs and the agent's connection";
  static override flags = { ...projectFlags };

  async run(): Promise<StatusResult> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    const result = await status(this.session(), envId);
    if (!this.jsonEnabled()) {
      this.log(`${result.envId} (${result.project}): ${result.status}, agent ${result.agent}\n`);
      this.log(table(['SERVICE', 'STATE', 'HEALTH'], result.services.map((s) => [s.service, s.state, s.health])));
      // One line of cause and fix per service that is not ready (`prevu doctor --id` says the same).
      const causes = new Map(result.services.filter((s) => s.cause).map((s) => [s.service, `✗ ${s.cause}: ${s.fix}`]));
      if (result.failure) this.log(`\n✗ the last up failed: ${result.failure.line}`);
      if (causes.size) this.log(`\n${[...causes.values()].join('\n')}`);
      this.log('');
      this.log(urlTable(result.urls));
      if (result.events.length) {
        this.log('\nlast events:');
        for (const e of result.events) this.log(`  ${describeEvent(e)}`);
      }
    }
    return result;
  }
}
