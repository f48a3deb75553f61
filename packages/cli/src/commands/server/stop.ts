import { Flags } from '@oclif/core';
import { embeddedSettings, stopEmbeddedServer } from '@prevu/core/embedded-server';
import { PrevuCommand } from '../../base.js';

export default class ServerStop extends PrevuCommand<typeof ServerStop> {
  static override description = 'Stop and remove the embedded tunnel server container';
  static override flags = { purge: Flags.boolean({ description: 'also delete its state volume and network' }) };

  async run(): Promise<{ stopped: boolean }> {
    const settings = embeddedSettings();
    const stopped = await stopEmbeddedServer(settings, { purgeData: this.flags.purge });
    if (!this.jsonEnabled()) this.log(stopped ? `stopped ${settings.container}` : `${settings.container} was not running`);
    return { stopped };
  }
}
