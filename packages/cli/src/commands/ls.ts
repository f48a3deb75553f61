import { list, type EnvListing } from '@prevu/core/envs/list';
import { PrevuCommand } from '../base.js';
import { table } from '../table.js';

export default class Ls extends PrevuCommand<typeof Ls> {
  static override description = 'List the envs of the profile';

  async run(): Promise<{ envs: EnvListing[] }> {
    const envs = await list(this.session());
    if (!this.jsonEnabled()) {
      if (!envs.length) this.log('no envs (deploy one with `prevu up`)');
      else if (envs.some((e) => e.machine)) {
        // A driver that makes machines (lightsail, kube): their state and age, e.g. "running 2h".
        const machine = (e: EnvListing) => (e.machine ? `${e.machine.state}${e.machine.createdAt ? ` ${age(e.machine.createdAt)}` : ''}` : '');
        this.log(table(['ENV', 'STATUS', 'MACHINE', 'DRIVER', 'DIRECTORY'], envs.map((e) => [e.envId, e.status, machine(e), e.driver, e.dir ?? ''])));
      } else this.log(table(['ENV', 'STATUS', 'SERVICES', 'DRIVER', 'DIRECTORY'], envs.map((e) => [e.envId, e.status, e.services, e.driver, e.dir ?? ''])));
    }
    return { envs };
  }
}

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
