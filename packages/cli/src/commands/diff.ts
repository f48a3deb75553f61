import { Args } from '@oclif/core';
import { diffEnvs, type DiffRow } from '@prevu/core/envs/diff';
import { targetEnvId } from '@prevu/core/envs/common';
import { PrevuCommand } from '../base.js';
import { composeSource } from '../project-flags.js';
import { table } from '../table.js';

export default class Diff extends PrevuCommand<typeof Diff> {
  static override description = "Where two envs differ: prevu's settings, services, images, environment keys and values (compared as hashes, never shown)";
  static override examples = ['<%= config.bin %> diff pr-12 main-staging'];
  static override args = {
    a: Args.string({ description: 'an env id', required: true }),
    b: Args.string({ description: 'the env to compare it with', required: true }),
  };

  async run(): Promise<{ differences: DiffRow[] }> {
    // the ids as every command reads them (normalized, checked), looked up in this profile
    const [a, b] = await Promise.all([this.args.a, this.args.b].map((id) => targetEnvId({ id, source: composeSource({}) })));
    const differences = await diffEnvs(this.session(), a!, b!);
    if (!this.jsonEnabled()) {
      this.log(differences.length ? table(['WHAT', this.args.a.toUpperCase(), this.args.b.toUpperCase()], differences.map((d) => [d.what, d.a, d.b])) : `${this.args.a} and ${this.args.b} run the same images with the same settings and environment`);
    }
    return { differences };
  }
}
