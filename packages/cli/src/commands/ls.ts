import { list, type EnvListing } from '@prevu/core/envs/list';
import { PrevuCommand } from '../base.js';
import { table } from '../table.js';

export default class Ls extends PrevuCommand<typeof Ls> {
  static override description = 'List the envs of the profile: status, age, TTL left, pinned, asleep, last request';

  async run(): Promise<{ envs: EnvListing[] }> {
    const envs = await list(this.session());
    if (!this.jsonEnabled()) {
      if (!envs.length) this.log('no envs (deploy one with `prevu up`)');
      else {
        // A driver that makes machines (lightsail, kube): their state and age, e.g. "running 2h"; else the services here.
        const machines = envs.some((e) => e.machine);
        const where = (e: EnvListing) => (machines ? (e.machine ? `${e.machine.state}${e.machine.createdAt ? ` ${duration(secondsSince(e.machine.createdAt))}` : ''}` : '') : e.services);
        this.log(
          table(
            ['ENV', 'STATUS', machines ? 'MACHINE' : 'SERVICES', 'AGE', 'TTL', 'PINNED', 'ASLEEP', 'LAST REQUEST', 'DRIVER', 'DIRECTORY'],
            envs.map((e) => [e.envId, e.status, where(e), duration(e.ageSeconds), ttl(e), e.pinned ? 'yes' : 'no', e.asleep === null ? '-' : e.asleep ? 'yes' : 'no', e.lastRequestAt ? `${duration(secondsSince(e.lastRequestAt))} ago` : '-', e.driver, e.dir ?? '']),
          ),
        );
      }
    }
    return { envs };
  }
}

/** What is left of the TTL: "3h", "expired", "never" (no TTL), "pinned" (a pinned env does not expire). */
function ttl(e: EnvListing): string {
  if (e.pinned) return 'pinned';
  if (e.lifecycleState === 'expired' || e.ttlLeftSeconds === 0) return 'expired';
  return e.ttlLeftSeconds === null ? 'never' : duration(e.ttlLeftSeconds);
}

function secondsSince(iso: string): number {
  return Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
}

/** 42s, 5m, 3h, 2d; '-' when unknown. */
function duration(s: number | null): string {
  if (s === null) return '-';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
