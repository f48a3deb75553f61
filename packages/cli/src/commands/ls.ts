import { list, type EnvListing } from '@prevu/core/deploy';
import { PrevuCommand } from '../base.js';
import { table } from '../table.js';

export default class Ls extends PrevuCommand<typeof Ls> {
  static override description = 'List the envs of the profile';

  async run(): Promise<{ envs: EnvListing[] }> {
    const envs = await list(this.session());
    if (!this.jsonEnabled()) {
      if (!envs.length) this.log('no envs (deploy one with `prevu up`)');
      else this.log(table(['ENV', 'STATUS', 'SERVICES', 'DRIVER', 'DIRECTORY'], envs.map((e) => [e.envId, e.status, e.services, e.driver, e.dir ?? ''])));
    }
    return { envs };
  }
}
