import { Args, Flags } from '@oclif/core';
import chalk from 'chalk';
import { resolveLifecycle } from '@prevu/core/durations';
import { keptVolumesLine } from '@prevu/core/envs/down';
import { closeContext, newUpContext, runSteps, upSteps, type UpResult } from '@prevu/core/up/index';
import { PrevuCommand } from '../base.js';
import { applyDriverFlags, driverFlags } from '../profile-flags.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { urlTable } from '../url-table.js';

export default class Up extends PrevuCommand<typeof Up> {
  static override description = 'Deploy the compose project and print a URL for every service port';
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up web api --id demo', '<%= config.bin %> up -f compose.yaml -f compose.preview.yaml --json', '<%= config.bin %> up --driver lightsail --set region=eu-west-1'];
  static override strict = false;
  static override args = { services: Args.string({ description: 'deploy only these services (and their URLs)' }) };
  static override flags = {
    ...projectFlags,
    // stored in the profile: later runs use them without the flags
    ...driverFlags,
    build: Flags.boolean({ description: 'build images before starting (--no-build to skip)', default: true, allowNo: true }),
    port: Flags.integer({ description: 'for a directory with only a Dockerfile: the port its service listens on [default: its EXPOSE]', min: 1, max: 65535 }),
    'strict-env': Flags.boolean({ description: 'stop before deploying when a variable the project expects (${VAR} without a default, .env.example keys) is not set' }),
    'wait-timeout': Flags.integer({ description: 'seconds to wait for services to be healthy and their URLs ready', min: 1, default: 300 }),
    ttl: Flags.string({ description: "the env expires this long after `up` (1h to 168h, e.g. 4h; 0 or never only with --pin) [default: the profile's lifecycle.ttlSeconds, else none]" }),
    'sleep-after': Flags.string({ description: "stop the services after this long without a request, wake them on the next (1m to 168h, e.g. 1h; 0 or off: never) [default: the profile's, else off]" }),
    pin: Flags.boolean({ description: 'exempt the env from its TTL and from sleep (kept by later `up`s; `prevu unpin` ends it)' }),
    'replace-oldest': Flags.boolean({ description: "when the profile already has its maxEnvs envs, remove the oldest to make room for this new one (its named volumes are kept)" }),
  };

  private envId?: string;

  async run(): Promise<UpResult> {
    const json = this.jsonEnabled();
    const profile = this.store.resolve(this.flags.profile);
    // before the driver flags are stored: a bad duration changes nothing
    const lifecycle = resolveLifecycle(
      { ...(this.flags.ttl !== undefined ? { ttl: this.flags.ttl } : {}), ...(this.flags['sleep-after'] !== undefined ? { sleepAfter: this.flags['sleep-after'] } : {}), pin: this.flags.pin },
      profile.lifecycle,
    );
    await applyDriverFlags(this.store, profile, this.flags);
    const session = this.session(json ? (event) => this.logJson(event) : undefined);
    const services = this.rest;
    const ctx = newUpContext(session, {
      source: { ...composeSource(this.flags), ...(this.flags.port !== undefined ? { dockerfilePort: this.flags.port } : {}) },
      ...(this.flags.id !== undefined ? { id: this.flags.id } : {}),
      ...(services.length ? { services } : {}),
      build: this.flags.build,
      strictEnv: this.flags['strict-env'],
      waitTimeout: this.flags['wait-timeout'],
      lifecycle,
      replaceOldest: this.flags['replace-oldest'],
    });
    const steps = upSteps();
    try {
      if (json || !process.stdout.isTTY) {
        // without a terminal (CI logs): one line per step on stderr, details with --debug
        await runSteps(steps, ctx, (step, line) => this.trace(`${step}: ${line}`), json ? undefined : (title) => process.stderr.write(`› ${title}\n`));
        this.envId = ctx.envId;
      } else {
        // only a terminal renders it: CI's and --json runs do not load it
        const { Listr } = await import('listr2');
        await new Listr(
          steps.map((step) => ({
            title: typeof step.title === 'function' ? '…' : step.title,
            task: async (_: unknown, task: { title: string; output: string }) => {
              if (typeof step.title === 'function') task.title = step.title(ctx);
              await step.run(ctx, (line) => {
                task.output = line;
                this.trace(line);
              });
              this.envId = ctx.envId;
            },
          })),
          { concurrent: false, exitOnError: true, registerSignalListeners: false, rendererOptions: { collapseErrors: true, showErrorMessage: false } },
        ).run();
      }
    } catch (error) {
      this.envId = ctx.envId;
      await closeContext(ctx, error);
      throw error;
    }
    await closeContext(ctx);
    const result = ctx.result!;
    if (!json) {
      for (const replaced of ctx.replaced) {
        this.log(`replaced the oldest env ${replaced.envId} (--replace-oldest)`);
        const kept = keptVolumesLine(replaced);
        if (kept) this.log(kept);
      }
      this.log(`\n${chalk.bold(result.envId)} is up (${result.project}, profile ${result.profile}):\n`);
      this.log(urlTable(result.urls));
      // One line each, after the table: deployed, but these are blank in the services.
      for (const m of result.missingEnv) process.stderr.write(`prevu: warning: ${m.name} is not set (${m.expectedBy}): set it, or use --strict-env to stop on it\n`);
    }
    for (const warning of ctx.warnings) process.stderr.write(`prevu: warning: ${warning}\n`);
    return result;
  }

  protected override interruptHint(): string {
    return this.envId ? `env ${this.envId} may be half-made: \`prevu ls\` lists it, \`prevu down --id ${this.envId}\` removes it` : 'nothing was deployed';
  }
}
