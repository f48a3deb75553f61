// Step 5 of `prevu up`: images built on the machine's engine (the agent's unless its tag is
// there), and the ports their images EXPOSE added to the URL variables.
import { imagePorts, runCompose } from '../compose-runner.js';
import { imageExists } from '../docker-cli.js';
import { AGENT_SERVICE } from '../names.js';
import type { Step, UpContext } from './context.js';

export const build: Step<UpContext> = {
  title: 'Build images',
  async run(ctx, report) {
    const build = ctx.options.build !== false;
    const selected = ctx.selected();
    // The agent's tag hashes all that goes into it: an image with that tag is the current build,
    // and building it again from cache costs a second build in the one compose run.
    const agent = (await imageExists(ctx.agent.image, ctx.dockerEnv())) ? [] : [AGENT_SERVICE];
    const built = Object.entries(ctx.loaded.model.services).filter(([n, s]) => s.build && (!selected || selected.includes(n))).map(([n]) => n);
    // a subset also needs the images of what it depends on; --no-build still builds the agent
    const targets = !build ? agent : selected ? ['--with-dependencies', ...selected, ...agent] : [...built, ...agent];
    // nothing to build (images only, agent built): no compose run at all
    if (targets.length) await runCompose(ctx.compose(), ['build', ...targets], report);
    if (build) for (const name of built) ctx.emit('image_built', name);
    // the agent also gives URLs to ports the images EXPOSE: so do the URL variables
    ctx.imagePorts = await imagePorts(ctx.loaded.model, ctx.project, ctx.dockerEnv());
    ctx.writeOverlay();
  },
};
