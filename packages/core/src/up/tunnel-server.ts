// Step 2 of `prevu up`: the tunnel server, started when it is the embedded one, and `hello` on a
// connection the upload step uses again for the agent's key.
import { connectTunnelServer } from '../session.js';
import type { Step, UpContext } from './context.js';

export const tunnelServer: Step<UpContext> = {
  title: (ctx) => (ctx.session.profile.tunnelServer.type === 'embedded' ? 'Start the embedded tunnel server' : 'Connect to the tunnel server'),
  async run(ctx, report) {
    const { endpoint, hello, client } = await connectTunnelServer(ctx.session, ctx.envId, report);
    ctx.tunnel = client;
    ctx.endpoint = endpoint;
    ctx.baseUrl = hello.baseUrl;
  },
};
