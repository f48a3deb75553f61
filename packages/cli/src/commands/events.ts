import { Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { events } from '@prevu/core/envs/events';
import { describeEvent } from '@prevu/core/events';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlagsNoShort } from '../project-flags.js';

export default class Events extends PrevuCommand<typeof Events> {
  static override description = "Print the env's events (health, restarts, crash loops, tunnels), the recent ones, or follow them with -f";
  static override examples = ['<%= config.bin %> events', '<%= config.bin %> events --id shop-main -f', '<%= config.bin %> events -f --json | jq .type'];
  static override flags = {
    ...projectFlagsNoShort,
    follow: Flags.boolean({ char: 'f', description: 'keep printing new events (Ctrl-C stops)' }),
  };

  async run(): Promise<void> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    const json = this.jsonEnabled();
    // one line per event as it comes, JSON lines with --json (as `up --json` streams its events)
    await events(this.session(), envId, { follow: this.flags.follow, onEvent: (event) => (json ? this.logJson(event) : process.stdout.write(`${describeEvent(event)}\n`)) });
  }
}
