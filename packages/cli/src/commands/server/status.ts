import { embeddedSettings, embeddedStatus, type EmbeddedState } from '@prevu/core/embedded-server';
import { PrevuCommand } from '../../base.js';

export default class ServerStatus extends PrevuCommand<typeof ServerStatus> {
  static override description = 'Whether the embedded tunnel server runs, and where';

  async run(): Promise<EmbeddedState> {
    const state = await embeddedStatus(embeddedSettings());
    const s = state.settings;
    if (!this.jsonEnabled()) {
      this.log(state.running ? `${s.container} running: http://*.${s.baseDomain}:${s.httpPort}, SSH 127.0.0.1:${s.sshPort}, management 127.0.0.1:${s.managementPort}` : `${s.container} is ${state.exists ? 'stopped' : 'not created'} (\`prevu server start\`)`);
      if (state.running && state.current === false) this.log(`it runs an older build (${state.image}): \`prevu server start\` replaces it`);
    }
    return state;
  }
}
