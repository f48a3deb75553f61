// --tls-cert/--tls-key from files: checked at start (the key fits, the certificate names
// `*.<base>`), and a renewed pair served to new connections without a restart, picked up from
// the file watch or on SIGHUP; a broken replacement is refused and the old pair keeps serving.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { freePort, operatorCertificate, startTunnelServer, tunnelServerMain, useKit, waitFor } from '@prevu/test-kit';

const kit = useKit();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-tls-files-'));
  kit.defer('certs', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const serialOf = (certPath: string) => new X509Certificate(readFileSync(certPath)).serialNumber;

/** The serial number of the certificate a new TLS connection to `port` is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'web-1.example.test', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe('certificates from files', () => {
  it('refuses at start, in one line with exit 1, a certificate not for *.<base> or a key not its own', () => {
    const dir = tempDir();
    const other = operatorCertificate(dir, '*.example.test', 90, 'other');
    const run = spawnSync(process.execPath, [tunnelServerMain, '--base-domain', 'prevu.localhost', ...other.args], { encoding: 'utf8' });
    expect([run.status, run.stderr]).toEqual([
      1,
      'prevu-tunnel-server: the --tls-cert certificate does not cover *.prevu.localhost (it names DNS:*.example.test): give a certificate for *.prevu.localhost, or the --base-domain it was made for; every URL is a name under it\n',
    ]);
    const mine = operatorCertificate(dir, '*.example.test', 90, 'mine');
    const mismatched = spawnSync(process.execPath, [tunnelServerMain, '--base-domain', 'example.test', '--tls-cert', mine.cert, '--tls-key', other.key], { encoding: 'utf8' });
    expect(mismatched.status).toBe(1);
    expect(mismatched.stderr).toMatch(/^prevu-tunnel-server: cannot use --tls-cert\/--tls-key: .*: give a PEM certificate and the private key it was made for\n$/);
    const missing = spawnSync(process.execPath, [tunnelServerMain, '--base-domain', 'example.test', '--tls-cert', join(dir, 'nope.crt'), '--tls-key', mine.key], { encoding: 'utf8' });
    expect([missing.status, missing.stderr]).toEqual([1, expect.stringMatching(/^prevu-tunnel-server: cannot use --tls-cert\/--tls-key: ENOENT.*\n$/)]);
  });

  it('starts with an expired certificate, with a warning, and serves the renewal once it is written', async () => {
    const dir = tempDir();
    const expired = operatorCertificate(dir, '*.example.test', -1, 'expired');
    const httpsPort = await freePort();
    const server = await startTunnelServer(kit, { baseDomain: 'example.test', args: ['--https-port', String(httpsPort), ...expired.args] });
    expect(server.proc.output()).toContain('tls certificate expired');
    const renewed = operatorCertificate(dir, '*.example.test', 90, 'renewed');
    renameSync(renewed.key, expired.key);
    renameSync(renewed.cert, expired.cert);
    await waitFor('the renewed certificate', async () => ((await servedSerial(httpsPort)) === serialOf(expired.cert) ? true : undefined));
  });

  it('serves a renewed pair to new connections without a restart: on a file change (renamed in, as renewers do) and on SIGHUP', async () => {
    // certbot's layout: live/ holds symlinks into archive/, swapped by rename on renewal.
    const dir = tempDir();
    const [archive, live] = [join(dir, 'archive'), join(dir, 'live')];
    mkdirSync(archive);
    mkdirSync(live);
    const link = (target: string, name: string) => {
      symlinkSync(target, join(live, `${name}.tmp`));
      renameSync(join(live, `${name}.tmp`), join(live, name));
    };
    const first = operatorCertificate(archive, '*.example.test', 30, 'cert1');
    link(first.cert, 'cert.pem');
    link(first.key, 'key.pem');
    const httpsPort = await freePort();
    const server = await startTunnelServer(kit, { baseDomain: 'example.test', args: ['--https-port', String(httpsPort), '--tls-cert', join(live, 'cert.pem'), '--tls-key', join(live, 'key.pem')] });
    expect(await servedSerial(httpsPort)).toBe(serialOf(first.cert));

    const second = operatorCertificate(archive, '*.example.test', 90, 'cert2');
    link(second.key, 'key.pem');
    link(second.cert, 'cert.pem');
    await waitFor('the renewed certificate', async () => ((await servedSerial(httpsPort)) === serialOf(second.cert) ? true : undefined));
    await waitFor('the reload in the log', async () => (server.proc.output().includes('"why":"file change"') ? true : undefined));

    // A replacement for another name is refused in one line; the renewed pair keeps serving.
    const refusals = () => server.proc.output().split('\n').filter((l) => l.includes('tls certificate refused')).length;
    const wrong = operatorCertificate(archive, '*.other.test', 90, 'wrong');
    link(wrong.key, 'key.pem');
    link(wrong.cert, 'cert.pem');
    await waitFor('the refusal', async () => (server.proc.output().includes('does not cover *.example.test (it names DNS:*.other.test)') ? true : undefined));
    expect(await servedSerial(httpsPort)).toBe(serialOf(second.cert));

    // The fix written in place in archive/: live/ does not change, so only SIGHUP brings it in.
    const third = operatorCertificate(dir, '*.example.test', 60, 'cert3');
    const before = refusals();
    copyFileSync(third.key, wrong.key);
    copyFileSync(third.cert, wrong.cert);
    server.proc.child.kill('SIGHUP');
    await waitFor('the certificate after SIGHUP', async () => ((await servedSerial(httpsPort)) === serialOf(third.cert) ? true : undefined));
    // its log line may reach this process after the new connection did
    await waitFor('the SIGHUP reload in the log', async () => (server.proc.output().includes('"why":"SIGHUP"') ? true : undefined));
    expect(refusals()).toBe(before);
  });
});
