// Step 3 of `prevu up`: the env is recorded (from here on `ls` lists it and `down` removes it),
// then the profile's driver finds or makes the machine and its Docker answers.
import { engineVersion, networkId } from '../docker-cli.js';
import { createDriver } from '../drivers/index.js';
import { errors } from '../errors.js';
import type { Step, UpContext } from './context.js';

export const prepareMachine: Step<UpContext> = {
  title: (ctx) => `Prepare the machine (${ctx.session.profile.driver})`,
  async run(ctx, report) {
    const { session } = ctx;
    ctx.lifecycle = await ctx.lifecycleState();
    // Written before anything is made: from here on the env is listed (`ls`) and `down`
    // removes it, whatever stops the rest (Ctrl-C, a crash, a failing build).
    await ctx.states.write({
      envId: ctx.envId,
      profile: session.profile.name,
      driver: session.profile.driver,
      project: ctx.project,
      source: { dir: ctx.options.source.cwd },
      ...(ctx.selected() ? { services: ctx.selected() } : {}),
      accountId: session.key.accountId,
      baseUrl: ctx.baseUrl,
      status: 'deploying',
      lifecycle: ctx.lifecycle,
    });
    ctx.driver = await createDriver({ profile: session.profile, profileDir: session.store.profileDir(session.profile.name), key: session.key, onProgress: report });
    ctx.machine = await ctx.driver.ensureMachine(ctx.envId, ctx.session.signal);
    ctx.dockerEndpoint = await ctx.machine.docker();
    // compose is this CLI's plugin whatever engine it drives, and `compose config` (readProject)
    // has shown it is there: only the engine is asked
    report(`engine ${await engineVersion(ctx.dockerEnv())}`);
    // The agent reaches the embedded server over this engine's network `prevu`: only a machine
    // whose Docker is this engine (an ssh host that is this machine, say) can use it, and only
    // this engine knows that network by this ID.
    if (session.profile.tunnelServer.type === 'embedded' && !ctx.driver.thisEngine) {
      const network = ctx.endpoint.externalNetworks[0]!;
      const here = await networkId(network);
      if (!here || (await networkId(network, ctx.dockerEnv())) !== here) throw errors.embeddedServerUnreachable(session.profile.driver);
    }
  },
};
