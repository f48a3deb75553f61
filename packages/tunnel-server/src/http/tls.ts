// The TLS side: a wildcard certificate for `*.<base>` from files, or the dev CA's (dev-ca.ts).
// Files are checked before use (the key fits, the certificate names `*.<base>`) at start and on
// every reload: renewers replace them in place, so a renewal needs no restart.
import { readFileSync, watch } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { errors, isPrevuError } from '@prevu/core/errors';
import { loadDevTls } from './dev-ca.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Set with --dev-tls: where the CA certificate clients should trust is. */
  caPath?: string;
  /** The leaf's notAfter, for files: a start with an expired one only warns (README, "TLS certificates from files"). */
  validTo?: Date;
  serial?: string;
}

interface FileOptions {
  tlsCert: string;
  tlsKey: string;
  baseDomain: string;
}

/** Reads and checks the pair; throws a PrevuError line when it cannot serve `*.<base>`. */
function loadFiles(options: FileOptions): TlsMaterial {
  let cert: string, key: string, leaf: X509Certificate;
  try {
    cert = readFileSync(options.tlsCert, 'utf8');
    key = readFileSync(options.tlsKey, 'utf8');
    leaf = new X509Certificate(cert);
    createSecureContext({ cert, key }); // throws when the key is not the certificate's
  } catch (error) {
    throw errors.serverCertUnusable((error as Error).message);
  }
  // Every URL is one label under the base, so only the wildcard itself covers them all.
  const names = (leaf.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:'));
  if (!names.some((n) => n.slice(4).toLowerCase() === `*.${options.baseDomain}`)) {
    throw errors.serverCertNotCovering(options.baseDomain, names.join(', ') || 'no DNS names');
  }
  return { cert, key, validTo: new Date(leaf.validTo), serial: leaf.serialNumber };
}

export function loadTls(options: { tlsCert?: string; tlsKey?: string; devTls: boolean; stateDir: string; baseDomain: string }): TlsMaterial | undefined {
  if (options.tlsCert && options.tlsKey) return loadFiles({ tlsCert: options.tlsCert, tlsKey: options.tlsKey, baseDomain: options.baseDomain });
  if (!options.devTls) return undefined;
  const dev = loadDevTls(options.stateDir, options.baseDomain);
  return { cert: dev.cert, key: dev.key, caPath: dev.caPath };
}

/**
 * Reloads the pair into `server` on SIGHUP and when either file's directory changes (renewers
 * write a new file and rename it over the old one, or swap a symlink, so the files themselves
 * cannot be watched). Changes are debounced; a pair that fails the checks is refused with one
 * log line and the one in use keeps serving. Returns a stop function.
 */
export function watchTls(server: { setSecureContext(options: { cert: string; key: string }): void }, options: FileOptions, current: TlsMaterial, log: Logger, debounceMs = 200): () => void {
  let serving = current;
  const reload = (why: string) => {
    try {
      const next = loadFiles(options);
      if (next.cert === serving.cert && next.key === serving.key) return;
      server.setSecureContext({ cert: next.cert, key: next.key });
      serving = next;
      log.info({ why, serial: next.serial, validTo: next.validTo }, 'tls certificate reloaded');
      if (next.validTo! < new Date()) log.warn({ validTo: next.validTo }, 'tls certificate expired');
    } catch (error) {
      if (!isPrevuError(error)) throw error;
      log.warn({ why }, `tls certificate refused, the previous one keeps serving: ${error.line}`);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const files = new Set([basename(options.tlsCert), basename(options.tlsKey)]);
  const watchers = [...new Set([dirname(options.tlsCert), dirname(options.tlsKey)])].map((dir) =>
    watch(dir, (_event, name) => {
      if (name !== null && !files.has(name)) return;
      clearTimeout(timer);
      timer = setTimeout(() => reload('file change'), debounceMs);
    }),
  );
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
    process.off('SIGHUP', onHup);
  };
}
