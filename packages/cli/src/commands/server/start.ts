import { embeddedSettings, ensureEmbeddedServer, type EmbeddedSettings } from '@prevu/core/embedded-server';
import { PrevuCommand } from '../../base.js';

export default class ServerStart extends PrevuCommand<typeof ServerStart> {
  static override description = 'Start the embedded tunnel server (a local container, restarted with Docker; http://*.localhost:8080), or replace one running an older build';

  async run(): Promise<EmbeddedSettings> {
    const settings = await ensureEmbeddedServer(embeddedSettings(), (line) => this.trace(line), { upgrade: true });
    if (!this.jsonEnabled()) this.log(`embedded tunnel server ${settings.container} is running: http://*.${settings.baseDomain}:${settings.httpPort}, SSH 127.0.0.1:${settings.sshPort}`);
    return settings;
  }
}
