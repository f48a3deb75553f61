// The TLS side: a wildcard certificate for `*.<base>` from files, or the dev CA's (dev-ca.ts).
import { readFileSync } from 'node:fs';
import { loadDevTls } from './dev-ca.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Set with --dev-tls: where the CA certificate clients should trust is. */
  caPath?: string;
}

export function loadTls(options: { tlsCert?: string; tlsKey?: string; devTls: boolean; stateDir: string; baseDomain: string }): TlsMaterial | undefined {
  if (options.tlsCert && options.tlsKey) return { cert: readFileSync(options.tlsCert, 'utf8'), key: readFileSync(options.tlsKey, 'utf8') };
  if (!options.devTls) return undefined;
  const dev = loadDevTls(options.stateDir, options.baseDomain);
  return { cert: dev.cert, key: dev.key, caPath: dev.caPath };
}
