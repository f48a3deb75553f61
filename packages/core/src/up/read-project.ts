// Step 1 of `prevu up`: what the project is, as `docker compose config` says (never read by
// prevu itself), the services asked for, the variables it expects and nothing sets, the env id
// (docs/architecture.md), and room for it under the profile's maxEnvs.
import { checkForUp, loadComposeProject } from '../compose.js';
import { resolveEnvId } from '../env-id.js';
import { makeRoom } from '../envs/limit.js';
import { errors } from '../errors.js';
import { composeProjectName } from '../names.js';
import type { Step, UpContext } from './context.js';

export const readProject: Step<UpContext> = {
  title: 'Read the compose project',
  async run(ctx, report) {
    ctx.loaded = await loadComposeProject(ctx.options.source);
    checkForUp(ctx.loaded.model);
    // Before anything is made: a variable nobody set is a blank string at run time.
    const missing = ctx.loaded.missingEnv;
    if (missing.length && ctx.options.strictEnv) throw errors.missingEnv(missing.map((m) => m.name).join(', '));
    for (const m of missing) report(`${m.name} is not set (${m.expectedBy})`);
    for (const s of ctx.options.services ?? []) {
      if (!ctx.loaded.model.services[s]) {
        throw errors.unknownService(s, 'the compose project', `choose from: ${Object.keys(ctx.loaded.model.services).join(', ')}`);
      }
    }
    ctx.envId = await resolveEnvId({ ...(ctx.options.id !== undefined ? { id: ctx.options.id } : {}), project: ctx.loaded.model.name, dir: ctx.options.source.cwd, ...(ctx.session.env ? { env: ctx.session.env } : {}) });
    ctx.project = composeProjectName(ctx.envId);
    // Still before anything is made: a new env beyond the limit is refused, or takes the oldest's place.
    ctx.replaced = await makeRoom(ctx.session, ctx.envId, { ...(ctx.options.replaceOldest ? { replaceOldest: true } : {}), report });
  },
};
