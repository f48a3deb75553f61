// The dev CA vouches for the base domain only (X.509 nameConstraints), checked with OpenSSL: the
// extension as it reads it, and a certificate the same CA key signs for another name refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useKit } from '@prevu/test-kit';
import { loadDevTls } from '../src/http/dev-ca.js';

const kit = useKit();

function openssl(args: string[], cwd: string): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-dev-ca-'));
  kit.defer(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('dev CA', () => {
  it('is name-constrained to the base domain: its certificate verifies, one for another name does not', () => {
    const state = stateDir();
    const tls = loadDevTls(state, 'example.test');
    const dir = join(state, 'dev-tls');
    const ext = openssl(['x509', '-in', 'ca.crt', '-noout', '-ext', 'nameConstraints'], dir);
    expect(ext.code, ext.out).toBe(0);
    expect(ext.out).toMatch(/X509v3 Name Constraints: critical\s+Permitted:\s+DNS:example\.test\s+Excluded:\s+IP:0\.0\.0\.0\/0\.0\.0\.0\s+IP:0:0:0:0:0:0:0:0\/0:0:0:0:0:0:0:0/);
    expect(openssl(['verify', '-CAfile', 'ca.crt', 'example.test.crt'], dir).out).toMatch(/example\.test\.crt: OK/);
    expect(tls.caPath).toBe(join(dir, 'ca.crt'));

    // Whoever holds the CA key still cannot make a certificate a client of this CA accepts elsewhere.
    for (const san of ['DNS:bank.example', 'DNS:example.test.evil.example', 'IP:127.0.0.1']) {
      const made = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'evil.key', '-subj', '/CN=evil', '-addext', `subjectAltName=${san}`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-days', '1', '-out', 'evil.crt'], dir);
      expect(made.code, made.out).toBe(0);
      expect(openssl(['verify', '-CAfile', 'ca.crt', 'evil.crt'], dir).out, san).toMatch(/(permitted|excluded) subtree violation/);
    }
  });

  it('makes a new CA (and certificate) when the one in the state dir is not constrained to this base', () => {
    const state = stateDir();
    const first = loadDevTls(state, 'example.test');
    expect(loadDevTls(state, 'example.test').ca).toBe(first.ca); // kept while it fits
    const other = loadDevTls(state, 'other.test');
    expect(other.ca).not.toBe(first.ca);
    const dir = join(state, 'dev-tls');
    expect(openssl(['x509', '-in', 'ca.crt', '-noout', '-ext', 'nameConstraints'], dir).out).toMatch(/DNS:other\.test/);
    expect(openssl(['verify', '-CAfile', 'ca.crt', 'other.test.crt'], dir).out).toMatch(/other\.test\.crt: OK/);
  });
});
