// Step 6 of `prevu up`: `compose up --wait`, its progress turned into events; a wait that runs out
// (or ends at its deadline while a service still starts) is one timeout line naming the services.
import { composeEvent, runCompose, stillStarting } from '../compose-runner.js';
import { errors, isPrevuError, type PrevuError } from '../errors.js';
import { AGENT_SERVICE } from '../names.js';
import type { Step, UpContext } from './context.js';

function waitTimedOut(ctx: UpContext, starting: string[], detail: string): PrevuError {
  return errors.servicesNotHealthy(ctx.options.waitTimeout ?? 0, starting.length ? `still starting: ${starting.join(', ')}` : detail, ctx.envId);
}

export const start: Step<UpContext> = {
  title: 'Start the services',
  async run(ctx, report) {
    const wait = ctx.options.waitTimeout ? ['--wait-timeout', String(ctx.options.waitTimeout)] : [];
    const services = ctx.selected() ? [...ctx.selected()!, AGENT_SERVICE] : [];
    const seen = new Set<string>();
    const started = Date.now();
    await runCompose(ctx.compose(), ['up', '-d', '--no-build', '--wait', ...wait, '--remove-orphans', ...services], (line) => {
      report(line);
      const event = composeEvent(line, ctx.project);
      if (!event || event.service === AGENT_SERVICE || seen.has(`${event.service}:${event.type}`)) return;
      seen.add(`${event.service}:${event.type}`);
      ctx.emit(event.type, event.service, event.container ? { container: event.container } : { image: ctx.loaded.model.services[event.service]?.image });
    }).catch(async (error: unknown) => {
      // compose's --wait-timeout ran out: a timeout like the URLs' own, naming the services
      // compose does not name
      if (!isPrevuError(error) || !/not healthy after/.test(error.message)) throw error;
      throw waitTimedOut(ctx, await stillStarting(ctx.project, ctx.dockerEnv()), error.message);
    });
    // Under load compose's wait has also ended at its deadline with success while a service
    // was still starting (seen 2 times in about 12 runs): the same timeout. A wait that ended
    // well before its deadline did not (`docker ps` is a CLI start on every up otherwise).
    if (!ctx.options.waitTimeout || Date.now() - started < (ctx.options.waitTimeout - 1) * 1000) return;
    const starting = (await stillStarting(ctx.project, ctx.dockerEnv())).filter((s) => !ctx.selected() || ctx.selected()!.includes(s));
    if (starting.length) throw waitTimedOut(ctx, starting, '');
  },
};
