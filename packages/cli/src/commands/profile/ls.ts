import { DEFAULT_PROFILE } from '@prevu/core/profiles';
import { PrevuCommand } from '../../base.js';
import { table } from '../../table.js';

interface Row {
  name: string;
  current: boolean;
  driver: string;
  tunnelServer: string;
  accountId: string;
}

export default class ProfileLs extends PrevuCommand<typeof ProfileLs> {
  static override description = 'List profiles (* marks the current one)';

  async run(): Promise<{ profiles: Row[] }> {
    const current = this.store.current() ?? (this.store.exists(DEFAULT_PROFILE) ? DEFAULT_PROFILE : undefined);
    const profiles = this.store.names().map((name) => {
      const p = this.store.read(name);
      return { name, current: name === current, driver: p.driver, tunnelServer: p.tunnelServer.type === 'embedded' ? 'embedded' : p.tunnelServer.address, accountId: this.store.key(name).accountId };
    });
    if (!this.jsonEnabled()) {
      if (!profiles.length) this.log('no profiles yet: `prevu up` makes `local` (embedded), `prevu init` makes one of your choice');
      else this.log(table(['', 'PROFILE', 'DRIVER', 'TUNNEL SERVER', 'ACCOUNT'], profiles.map((p) => [p.current ? '*' : '', p.name, p.driver, p.tunnelServer, p.accountId])));
    }
    return { profiles };
  }
}
