import { Args, Flags } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { connect } from '@prevu/core/envs/connect';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlagsNoShort } from '../project-flags.js';

export default class Connect extends PrevuCommand<typeof Connect> {
  static override description = "Forward a local port to a service of the env that is not HTTP (Postgres, Redis), until Ctrl-C";
  static override enableJsonFlag = false;
  static override args = { service: Args.string({ description: 'the compose service', required: true }) };
  static override flags = {
    ...projectFlagsNoShort,
    port: Flags.integer({ description: 'the service port, when it has several (e.g. --port 5432)', min: 1, max: 65535 }),
    'local-port': Flags.integer({ description: 'the port on 127.0.0.1 (default: a free one)', min: 0, max: 65535 }),
  };

  async run(): Promise<void> {
    const envId = await targetEnvId({ ...(this.flags.id !== undefined ? { id: this.flags.id } : {}), source: composeSource(this.flags) });
    await connect(this.session(), envId, {
      service: this.args.service,
      ...(this.flags.port !== undefined ? { port: this.flags.port } : {}),
      ...(this.flags['local-port'] !== undefined ? { localPort: this.flags['local-port'] } : {}),
      onListening: (address, target) => process.stdout.write(`${address} -> ${target.service}${target.port ? `:${target.port}` : ''} of env "${envId}" (Ctrl-C stops)\n`),
      onRefused: (error) => process.stderr.write(`prevu: ${error.line}\n`),
    });
  }
}
