import { Flags } from '@oclif/core';
import { expose, stopExpose, type ExposeResult } from '@prevu/core/expose';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { urlTable } from '../url-table.js';

export default class Expose extends PrevuCommand<typeof Expose> {
  static override description = 'Give URLs to a compose project already running on this machine (docker compose up -d), with no deploy; --stop ends them';
  static override examples = ['<%= config.bin %> expose', '<%= config.bin %> expose --stop'];
  static override flags = {
    ...projectFlags,
    stop: Flags.boolean({ description: "end the URLs: the agent goes, its key is revoked; the project's containers keep running" }),
    'wait-timeout': Flags.integer({ description: 'seconds to wait for the URLs to be ready', min: 1, default: 120 }),
  };

  async run(): Promise<ExposeResult | { envId: string; exposes: string }> {
    const session = this.session();
    const options = { source: composeSource(this.flags), ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), waitTimeout: this.flags['wait-timeout'] };
    if (this.flags.stop) {
      const stopped = await stopExpose(session, options);
      if (!this.jsonEnabled()) this.log(`stopped exposing ${stopped.exposes} (env ${stopped.envId}); its containers keep running`);
      return stopped;
    }
    const result = await expose(session, options, (line) => this.trace(line));
    if (!this.jsonEnabled()) {
      this.log(`${result.exposes} is exposed as env ${result.envId} (\`prevu expose --stop\` ends it):\n`);
      this.log(urlTable(result.urls));
    }
    return result;
  }
}
