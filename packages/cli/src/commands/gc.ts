import { Flags } from '@oclif/core';
import { keptVolumesLine } from '@prevu/core/envs/down';
import { gc, type GcRow } from '@prevu/core/envs/gc';
import { PrevuCommand } from '../base.js';

export default class Gc extends PrevuCommand<typeof Gc> {
  static override description = 'Remove the envs whose TTL has passed (not pinned), and the machines drivers made for them; named volumes are kept unless --volumes';
  static override examples = ['<%= config.bin %> gc --dry-run', '<%= config.bin %> gc --volumes --json'];
  static override flags = {
    'dry-run': Flags.boolean({ description: 'only list the envs gc would remove' }),
    volumes: Flags.boolean({ description: 'also remove the named volumes of the envs removed (kept by default, and named)' }),
  };

  async run(): Promise<{ envs: GcRow[] }> {
    const envs = await gc(this.session(), { volumes: this.flags.volumes, dryRun: this.flags['dry-run'] });
    if (!this.jsonEnabled()) {
      if (!envs.length) this.log('no expired envs');
      for (const env of envs) {
        if (env.error) continue;
        const when = env.expiresAt ? `expired ${env.expiresAt}` : 'expired, its agent says';
        this.log(`${this.flags['dry-run'] ? 'would remove' : 'removed'} ${env.envId} (${when})`);
        const kept = keptVolumesLine(env);
        if (kept) this.log(kept);
      }
    }
    // One env that could not be removed does not stop the others; the command still fails for it.
    for (const env of envs.filter((e) => e.error)) process.stderr.write(`prevu: ${env.envId} was not removed: ${env.error}\n`);
    if (envs.some((e) => e.error)) process.exitCode = 1;
    return { envs };
  }
}
