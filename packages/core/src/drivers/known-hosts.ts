// Host keys of the machines a profile reaches over SSH, in OpenSSH's known_hosts format (so
// `ssh -o UserKnownHostsFile=<file>` agrees with prevu): trust on first use, then a changed key
// is refused. Plain and hashed (`|1|salt|hash`) host patterns are read; prevu writes plain ones.
import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The name OpenSSH records: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export type HostKeyCheck = 'known' | 'new' | 'mismatch';

interface Entry {
  patterns: string;
  type: string;
  key: string;
  line: number;
}

function entries(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const found: Entry[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, line) => {
      const text = raw.trim();
      // Markers (@cert-authority, @revoked) are OpenSSH features prevu does not use.
      if (!text || text.startsWith('#') || text.startsWith('@')) return;
      const [patterns, type, key] = text.split(/\s+/);
      if (patterns && type && key) found.push({ patterns, type, key, line });
    });
  return found;
}

function matches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return patterns.split(',').includes(name);
}

/** `key` is the host key blob the server presented (SSH wire format). */
export function checkHostKey(file: string, host: string, port: number, key: Buffer): HostKeyCheck {
  const name = knownHostName(host, port);
  const recorded = entries(file).filter((e) => matches(e.patterns, name));
  if (recorded.length === 0) return 'new';
  const presented = key.toString('base64');
  return recorded.some((e) => e.key === presented) ? 'known' : 'mismatch';
}

/** Key types recorded for the host (`ssh-ed25519`, `ssh-rsa` ...), so the client can ask for those first. */
export function recordedKeyTypes(file: string, host: string, port: number): string[] {
  const name = knownHostName(host, port);
  return [...new Set(entries(file).filter((e) => matches(e.patterns, name)).map((e) => e.type))];
}

/** Appends the host's key (one write, so concurrent `prevu` runs do not interleave lines). */
export function recordHostKey(file: string, host: string, port: number, key: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${knownHostName(host, port)} ${keyType(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
}

/** Drops every line for the host (a machine deleted for good: its address may come back with another key). */
export function forgetHost(file: string, host: string, port: number): void {
  if (!existsSync(file)) return;
  const name = knownHostName(host, port);
  const drop = new Set(entries(file).filter((e) => matches(e.patterns, name)).map((e) => e.line));
  if (drop.size === 0) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((_, i) => !drop.has(i));
  writeFileSync(file, kept.join('\n'), { mode: 0o600 });
}

/** The algorithm name at the start of a key blob (uint32 length + name). */
function keyType(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('ascii');
}
