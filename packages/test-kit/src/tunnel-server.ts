// Starts the real tunnel server (packages/tunnel-server/dist/main.js) as a process for a test,
// on free ports (loopback unless told), and gives what a test needs: ports, URLs, metrics, the dev CA path.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePorts } from './ports.js';
import type { Kit } from './kit.js';
import type { Proc } from './process.js';

export const tunnelServerMain = fileURLToPath(new URL('../../tunnel-server/dist/main.js', import.meta.url));

/** A certificate authority of a test (openssl, EC P-256, 30 days): `<dir>/<file>.crt` is what clients are told to trust. */
export function testCa(dir: string, file = 'test-ca'): { cert: string; key: string } {
  const [cert, key] = [join(dir, `${file}.crt`), join(dir, `${file}.key`)];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=prevu test CA', '-days', '30', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/**
 * A certificate for `name` valid `days` days (below 1: expired already) and its key, made by
 * openssl as an operator would bring them, written to `<dir>/<file>.crt` and `.key`: self-signed,
 * or issued by `ca` (testCa).
 */
export function operatorCertificate(dir: string, name: string, days: number, file = String(days), ca?: { cert: string; key: string }): { cert: string; key: string; args: string[] } {
  const [cert, key, csr] = [join(dir, `${file}.crt`), join(dir, `${file}.key`), join(dir, `${file}.csr`)];
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', csr], { stdio: 'ignore' });
  // `x509 -req` takes any -days, where `req -x509` refuses those below 1.
  const signer = ca ? ['-CA', ca.cert, '-CAkey', ca.key] : ['-key', key];
  execFileSync('openssl', ['x509', '-req', '-in', csr, ...signer, '-copy_extensions', 'copyall', '-days', String(days), '-out', cert], { stdio: 'ignore' });
  return { cert, key, args: ['--tls-cert', cert, '--tls-key', key] };
}

export interface TunnelServer {
  proc: Proc;
  ports: { ssh: number; http: number; https?: number; management: number; cluster?: number };
  baseDomain: string;
  stateDir: string;
  /** --dev-tls: the CA certificate a client must trust. */
  caPath?: string;
  /** `SHA256:...` fingerprint of the server's SSH host key (from the ready line). */
  hostKey: string;
  /** Current value of a Prometheus counter or gauge (sum over labels). */
  metric(name: string): Promise<number>;
}

export async function startTunnelServer(
  kit: Pick<Kit, 'start'>,
  options: {
    baseDomain?: string;
    devTls?: boolean;
    stateDir?: string;
    /** Default 127.0.0.1; 0.0.0.0 when a test machine's agent must reach it too (as host.docker.internal, machine.ts). */
    listen?: string;
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** A node of a cluster: --redis, --cluster-secret-file, and a hop listener on a free port of 127.0.0.1. */
    cluster?: { redis: string; secretFile: string };
  } = {},
): Promise<TunnelServer> {
  const [ssh, http, management, https, cluster] = await freePorts(5);
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'prevu-tunnel-state-'));
  const baseDomain = options.baseDomain ?? 'localhost';
  const args = [
    tunnelServerMain,
    '--ssh-port', String(ssh),
    '--http-port', String(http),
    '--management-port', String(management),
    '--base-domain', baseDomain,
    '--state-dir', stateDir,
    '--listen', options.listen ?? '127.0.0.1',
    ...(options.devTls ? ['--dev-tls', '--https-port', String(https)] : []),
    ...(options.cluster ? ['--redis', options.cluster.redis, '--cluster-secret-file', options.cluster.secretFile, '--cluster-port', String(cluster), '--cluster-host', '127.0.0.1'] : []),
    ...(options.args ?? []),
  ];
  const proc = await kit.start({ command: process.execPath, args, env: options.env ?? {}, readyLine: /"msg":"ready"/ });
  const ready = proc.output().split('\n').find((l) => l.includes('"msg":"ready"'))!;
  // the HTTPS port from the ready line: --dev-tls's, or one given in args with --tls-cert
  const { devCa: caPath, hostKey, ports } = JSON.parse(ready) as { devCa?: string; hostKey: string; ports: { https?: number } };
  return {
    proc,
    ports: { ssh: ssh!, http: http!, management: management!, ...(ports.https ? { https: ports.https } : {}), ...(options.cluster ? { cluster: cluster! } : {}) },
    baseDomain,
    stateDir,
    hostKey,
    ...(caPath ? { caPath } : {}),
    async metric(name) {
      const res = await request(`http://127.0.0.1:${management}/metrics`);
      const text = await res.body.text();
      let sum = 0;
      for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      return sum;
    },
  };
}
