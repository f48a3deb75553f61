// Browsers and curl resolve `*.localhost` to loopback, Node's resolver does not (ENOTFOUND).
// prevu's own HTTP checks use this lookup so embedded-default URLs work from Node too.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

export function localhostAwareLookup(hostname: string, options: LookupOptions, callback: Callback): void {
  if (!isLocalhostName(hostname)) {
    dnsLookup(hostname, options, callback as never);
    return;
  }
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}
