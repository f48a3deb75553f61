// The names prevu resolves itself before DNS: `*.localhost` to loopback (browsers and curl do,
// Node's resolver does not: ENOTFOUND), and the entries of the hosts file PREVU_HOSTS_FILE (for a
// tunnel server whose base domain has no DNS yet, or a test's, e.g. `127.0.0.1 *.preview.test`).
// prevu's own HTTPS checks and tls:// connections use this lookup; browsers need their own entry.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { errors } from './errors.js';

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

interface HostsEntry {
  address: string;
  family: 4 | 6;
  /** A name, or `*.<domain>`: every name under the domain (as a wildcard DNS record). */
  name: string;
}

let hosts: { file: string; entries: HostsEntry[] } | undefined;

/**
 * The entries of PREVU_HOSTS_FILE (none when unset): lines `<address> <name>...` as in
 * /etc/hosts, `#` comments. Read once per process; throws hostsFileInvalid on a bad file.
 */
export function hostsFileEntries(env: NodeJS.ProcessEnv = process.env): HostsEntry[] {
  const file = env.PREVU_HOSTS_FILE;
  if (!file) return [];
  if (hosts?.file === file) return hosts.entries;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw errors.hostsFileInvalid(file, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  const entries: HostsEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const [address, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (!address) continue;
    const family = isIP(address);
    if (!family || !names.length) throw errors.hostsFileInvalid(file, `line ${i + 1} is not "<address> <name>..."`);
    for (const name of names) entries.push({ address, family: family as 4 | 6, name: name.toLowerCase().replace(/\.$/, '') });
  }
  hosts = { file, entries };
  return entries;
}

function fromHostsFile(hostname: string): HostsEntry | undefined {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return hostsFileEntries().find((e) => (e.name.startsWith('*.') ? h.endsWith(e.name.slice(1)) : h === e.name));
}

export function localhostAwareLookup(hostname: string, options: LookupOptions, callback: Callback): void {
  let entry: Pick<HostsEntry, 'address' | 'family'> | undefined;
  try {
    entry = isLocalhostName(hostname) ? { address: '127.0.0.1', family: 4 } : fromHostsFile(hostname);
  } catch (error) {
    return callback(error as NodeJS.ErrnoException, '');
  }
  if (!entry) {
    dnsLookup(hostname, options, callback as never);
    return;
  }
  if (options.all) callback(null, [entry]);
  else callback(null, entry.address, entry.family);
}
