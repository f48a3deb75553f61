// Step 5 of `prevu up`: images built on the machine's engine (the agent's always), and the ports
// their images EXPOSE added to the URL variables.
import { imagePorts, runCompose } from '../compose-runner.js';
import { AGENT_SERVICE } from '../names.js';
import type { Step, UpContext } from './context.js';

export const build: Step<UpContext> = {
  title: 'Build images',
  async run(ctx, report) {
    const build = ctx.options.build !== false;
    const selected = ctx.selected();
    // a subset also needs the images of what it depends on; --no-build still builds the agent
    const targets = !build ? [AGENT_SERVICE] : selected ? ['--with-dependencies', ...selected, AGENT_SERVICE] : [];
    const built = Object.entries(ctx.loaded.model.services).filter(([n, s]) => s.build && (!selected || selected.includes(n))).map(([n]) => n);
    await runCompose(ctx.compose(), ['build', ...targets], report);
    if (build) for (const name of built) ctx.emit('image_built', name);
    // the agent also gives URLs to ports the images EXPOSE: so do the URL variables
    ctx.imagePorts = await imagePorts(ctx.loaded.model, ctx.project, ctx.dockerEnv());
    ctx.writeOverlay();
  },
};
