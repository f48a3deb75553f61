// Slots counted per source address and in all, so one address (or a flood from many) cannot take
// every connection: sshd's MaxStartups for unauthenticated SSH, and the same for HTTP clients.
import { isIPv6 } from 'node:net';

/** The address a limit counts: IPv4 as is, IPv6 by its /64 (one host is given a whole /64). */
export function visitorAddress(remote: string | undefined): string {
  const address = (remote ?? '').replace(/^::ffff:(?=\d+\.)/, '');
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('::', 2);
  const groups = head ? head.split(':') : [];
  if (tail !== undefined) {
    const rest = tail ? tail.split(':') : [];
    groups.push(...Array<string>(8 - groups.length - rest.length).fill('0'), ...rest);
  }
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class AddressLimiter {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  /** Takes a slot; the function returned gives it back (calling it again does nothing). Undefined when full. */
  acquire(address: string): (() => void) | undefined {
    const held = this.byAddress.get(address) ?? 0;
    if (this.total >= this.maxTotal || held >= this.maxPerAddress) return undefined;
    this.total++;
    this.byAddress.set(address, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = this.byAddress.get(address)! - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    };
  }
}
