import { Args } from '@oclif/core';
import { targetEnvId } from '@prevu/core/envs/common';
import { diffEnvs, diffWithFiles, type DiffRow } from '@prevu/core/envs/diff';
import { PrevuCommand } from '../base.js';
import { composeSource, projectFlags } from '../project-flags.js';
import { table } from '../table.js';

export default class Diff extends PrevuCommand<typeof Diff> {
  static override description = "Where two envs differ, or an env and the compose files as they are now: prevu's settings, services, images, environment keys and values (compared as hashes, never shown)";
  static override examples = ['<%= config.bin %> diff pr-12 main-staging', '<%= config.bin %> diff pr-12'];
  static override args = {
    a: Args.string({ description: 'an env id', required: true }),
    b: Args.string({ description: 'the env to compare it with [default: the compose files here, as they are now]' }),
  };
  static override flags = { file: projectFlags.file, 'project-directory': projectFlags['project-directory'], 'compose-profile': projectFlags['compose-profile'] };

  async run(): Promise<{ differences: DiffRow[] }> {
    const source = composeSource(this.flags);
    // the ids as every command reads them (normalized, checked), looked up in this profile
    const a = await targetEnvId({ id: this.args.a, source });
    const b = this.args.b === undefined ? undefined : await targetEnvId({ id: this.args.b, source });
    const differences = b === undefined ? await diffWithFiles(this.session(), a, source) : await diffEnvs(this.session(), a, b);
    const other = b ?? 'the files';
    if (!this.jsonEnabled()) {
      this.log(differences.length ? table(['WHAT', a.toUpperCase(), other.toUpperCase()], differences.map((d) => [d.what, d.a, d.b])) : `${a} and ${other} have the same services, images, settings and environment`);
    }
    return { differences };
  }
}
