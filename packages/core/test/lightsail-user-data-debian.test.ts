// The user-data script for real in a Debian 12 root made with debootstrap from Debian's packages,
// run as root with chroot in private mount and pid namespaces. What it proves: the script runs
// unchanged under Debian's bash, apt, dpkg, curl, useradd/usermod and install; it fetches Docker's
// key over HTTPS, writes the repository line apt accepts (signed-by that key), installs the five
// packages by name through apt, places the key of the profile with the modes sshd demands, and a
// second run changes nothing.
// What it does not prove: Docker's real repository and packages (download.docker.com is not
// reachable here: a local HTTPS repository answers in its place, signed with a test key, trusted
// through a test CA added to the root, with packages of the same names whose docker only answers
// `docker compose version`); systemd and dockerd (a chroot boots nothing: systemctl is a stand-in
// that records its calls). The root is made once and cached under the OS temp dir (keyed by what
// makes it); each run writes into an overlay above it. Network: only the cached root's first
// debootstrap reaches Debian's mirror; the script itself reaches loopback only (the root's Debian
// sources are emptied, its packages come with the root).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { useKit } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { lightsailUserData } from '../src/drivers/lightsail-user-data.js';

const run = promisify(execFile);
const kit = useKit();
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZhbHVlLW9mLXRoZS10ZXN0LWtleS0xMjM0NTY3ODkw';
const DOCKER_PACKAGES = ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker-buildx-plugin', 'docker-compose-plugin'];
const ROOT_RECIPE = { suite: 'bookworm', variant: 'minbase', include: ['ca-certificates', 'curl'], mirror: 'http://deb.debian.org/debian' };

/** The Debian root, made once per recipe (a rename makes it appear whole, so a crash leaves no half root). */
async function debianRoot(): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(ROOT_RECIPE)).digest('hex').slice(0, 12);
  const root = join(tmpdir(), `prevu-debian-${hash}`);
  if (existsSync(root)) return root;
  const building = `${root}.building-${process.pid}`;
  kit.defer(`debootstrap leftovers ${building}`, () => rmSync(building, { recursive: true, force: true }));
  const { suite, variant, include, mirror } = ROOT_RECIPE;
  await run('debootstrap', [`--variant=${variant}`, `--include=${include.join(',')}`, suite, building, mirror], { maxBuffer: 64 * 1024 * 1024, timeout: 540_000 });
  try {
    renameSync(building, root);
  } catch (error) {
    // another run made it meanwhile
    if (!existsSync(root)) throw error;
  }
  return root;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A signed apt repository for Docker's URL layout, with packages of Docker's names (stand-ins). */
async function dockerRepository(dir: string): Promise<{ files: Map<string, Buffer>; publicKey: string }> {
  const gnupg = join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  const gpg = (args: string[]) => run('gpg', ['--batch', '--homedir', gnupg, '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  await gpg(['--quick-gen-key', 'prevu test repository', 'ed25519', 'sign', 'never']);
  const publicKey = (await gpg(['--armor', '--export'])).stdout;

  const files = new Map<string, Buffer>();
  const entries: string[] = [];
  for (const name of DOCKER_PACKAGES) {
    const pkg = join(dir, name);
    mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
    writeFileSync(join(pkg, 'DEBIAN', 'control'), `Package: ${name}\nVersion: 99.0.0-test\nArchitecture: amd64\nMaintainer: prevu tests <tests@prevu.invalid>\nDescription: stand-in for Docker's ${name}\n`);
    if (name === 'docker-ce') {
      // Docker's own postinst makes the group the script adds the SSH user to.
      writeFileSync(join(pkg, 'DEBIAN', 'postinst'), '#!/bin/sh\nset -e\ngetent group docker >/dev/null || groupadd --system docker\n', { mode: 0o755 });
    }
    if (name === 'docker-ce-cli') {
      mkdirSync(join(pkg, 'usr', 'bin'), { recursive: true });
      writeFileSync(join(pkg, 'usr', 'bin', 'docker'), '#!/bin/sh\n[ "$1 $2" = "compose version" ] && exec /usr/libexec/docker/cli-plugins/docker-compose version\nexit 1\n', { mode: 0o755 });
    }
    if (name === 'docker-compose-plugin') {
      mkdirSync(join(pkg, 'usr', 'libexec', 'docker', 'cli-plugins'), { recursive: true });
      writeFileSync(join(pkg, 'usr', 'libexec', 'docker', 'cli-plugins', 'docker-compose'), '#!/bin/sh\necho "Docker Compose version v2 (stand-in)"\n', { mode: 0o755 });
    }
    const deb = join(dir, `${name}.deb`);
    await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', pkg, deb]);
    const data = readFileSync(deb);
    const path = `pool/stable/${name}_99.0.0-test_amd64.deb`;
    files.set(`/linux/debian/${path}`, data);
    entries.push(`${readFileSync(join(pkg, 'DEBIAN', 'control'), 'utf8')}Filename: ${path}\nSize: ${data.length}\nSHA256: ${sha256(data)}\n`);
  }
  const packages = Buffer.from(entries.join('\n'));
  files.set('/linux/debian/dists/bookworm/stable/binary-amd64/Packages', packages);
  const release = `Origin: prevu tests\nSuite: bookworm\nCodename: bookworm\nDate: ${new Date().toUTCString()}\nArchitectures: amd64\nComponents: stable\nSHA256:\n ${sha256(packages)} ${packages.length} stable/binary-amd64/Packages\n`;
  writeFileSync(join(dir, 'Release'), release);
  await gpg(['--clearsign', '--output', join(dir, 'InRelease'), join(dir, 'Release')]);
  files.set('/linux/debian/dists/bookworm/InRelease', readFileSync(join(dir, 'InRelease')));
  files.set('/linux/debian/gpg', Buffer.from(publicKey));
  return { files, publicKey };
}

/** A CA and a certificate for download.docker.com signed by it. */
async function certificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const file = (name: string) => join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=prevu test CA', '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=download.docker.com', '-keyout', file('site.key'), '-out', file('site.csr')]);
  writeFileSync(file('site.ext'), 'subjectAltName=DNS:download.docker.com\n');
  await run('openssl', ['x509', '-req', '-in', file('site.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('site.ext'), '-out', file('site.crt')]);
  return { ca: readFileSync(file('ca.crt'), 'utf8'), key: readFileSync(file('site.key'), 'utf8'), cert: readFileSync(file('site.crt'), 'utf8') };
}

/** Every file under `dir` with its kind, mode, owner, size and mtime: what a run changed shows here. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const s = statSync(path, { throwIfNoEntry: false });
      if (!s) continue;
      out.set(relative(dir, path), `${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out;
}

describe('lightsail user-data in a Debian 12 root (debootstrap, chroot)', () => {
  let work: string;
  let upper: string;
  let chroot: (script: string) => Promise<{ code: number; output: string }>;
  let requests: string[];
  let publicKey: string;
  const userData = lightsailUserData({ sshUser: 'admin', sshPort: 2222, authorizedKey: `${KEY} someone@laptop` });

  beforeAll(async () => {
    const root = await debianRoot();
    work = mkdtempSync(join(tmpdir(), 'prevu-userdata-debian-'));
    kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
    upper = join(work, 'upper');
    for (const d of ['upper', 'overlay-work', 'merged', 'repo', 'tls']) mkdirSync(join(work, d));

    const repo = await dockerRepository(join(work, 'repo'));
    publicKey = repo.publicKey;
    const tls = await certificates(join(work, 'tls'));
    // download.docker.com is a loopback address of its own (root may bind 443 there).
    const address = `127.${20 + (process.pid % 200)}.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
    requests = [];
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      requests.push(req.url ?? '');
      const body = repo.files.get((req.url ?? '').split('?')[0]!);
      res.statusCode = body ? 200 : 404;
      res.end(body ?? 'not here');
    });
    await new Promise<void>((listening) => server.listen(443, address, listening));
    kit.defer('repository server', () => new Promise((closed) => server.close(closed)));

    // Each run: the overlay over the cached root, /proc of a new pid namespace, then chroot.
    chroot = (script) =>
      new Promise((done) => {
        execFile(
          'unshare',
          [
            // --kill-child: the timeout's SIGTERM to unshare ends everything in the namespace
            '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', 'sh', '-c',
            'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/overlay-work" "$2/merged" && mount -t proc proc "$2/merged/proc" && exec chroot "$2/merged" /bin/bash -c "$3"',
            'sh', root, work, script,
          ],
          { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' }, maxBuffer: 64 * 1024 * 1024, timeout: 50_000 },
          (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr }),
        );
      });

    // What a Lightsail Debian image has and a chroot lacks: the admin user, name resolution of
    // download.docker.com (here: the local repository), trust in its CA; no Debian sources (the
    // packages Debian's mirror would give are in the root already), and systemctl as a recorder.
    const prepared = await chroot(
      [
        'set -e',
        'useradd -m -s /bin/bash admin',
        `echo '${address} download.docker.com' >>/etc/hosts`,
        `printf '%s' '${tls.ca}' >/usr/local/share/ca-certificates/prevu-test.crt`,
        'update-ca-certificates >/dev/null',
        ': >/etc/apt/sources.list',
        `printf '#!/bin/sh\\necho "$*" >>/var/log/prevu-systemctl\\n' >/usr/local/sbin/systemctl`,
        'chmod 755 /usr/local/sbin/systemctl',
      ].join('\n'),
    );
    expect(prepared.code, prepared.output).toBe(0);
  }, 600_000); // bounds the first debootstrap (80 s here, one run); later runs find the root made

  it('first run: Docker repository and key over HTTPS, the five packages installed by apt, the key placed with sshd modes; dockerd is not started (no systemd in a chroot)', async () => {
    const first = await chroot(userData);
    expect(first.code, first.output).toBe(0);

    expect(requests).toEqual(expect.arrayContaining(['/linux/debian/gpg', '/linux/debian/dists/bookworm/InRelease', '/linux/debian/dists/bookworm/stable/binary-amd64/Packages']));
    expect(requests.filter((r) => r.endsWith('.deb')).length).toBe(DOCKER_PACKAGES.length);
    expect(readFileSync(join(upper, 'etc/apt/keyrings/docker.asc'), 'utf8')).toBe(publicKey);
    expect(statSync(join(upper, 'etc/apt/keyrings/docker.asc')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(upper, 'etc/apt/sources.list.d/docker.list'), 'utf8')).toBe('deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable\n');
    const status = readFileSync(join(upper, 'var/lib/dpkg/status'), 'utf8');
    for (const name of DOCKER_PACKAGES) expect(status, name).toMatch(new RegExp(`^Package: ${name.replace('.', '\\.')}\\nStatus: install ok installed$`, 'm'));

    const ssh = join(upper, 'home/admin/.ssh');
    const admin = /^admin:x:(\d+):(\d+):/m.exec(readFileSync(join(upper, 'etc/passwd'), 'utf8'))!;
    expect(statSync(ssh).mode & 0o777).toBe(0o700);
    expect(statSync(join(ssh, 'authorized_keys')).mode & 0o777).toBe(0o600);
    expect([statSync(join(ssh, 'authorized_keys')).uid, statSync(ssh).uid]).toEqual([Number(admin[1]), Number(admin[1])]);
    expect(readFileSync(join(ssh, 'authorized_keys'), 'utf8')).toBe(`${KEY}\n`);
    expect(readFileSync(join(upper, 'etc/group'), 'utf8')).toMatch(/^docker:x:\d+:admin$/m);
    expect(readFileSync(join(upper, 'etc/ssh/sshd_config.d/prevu-port.conf'), 'utf8')).toBe('Port 22\nPort 2222\n');
    // Where a real instance starts sshd on the new port and dockerd, a chroot has no systemd.
    expect(readFileSync(join(upper, 'var/log/prevu-systemctl'), 'utf8')).toBe('restart ssh\nenable --now docker\n');
  });

  it('second run: no request, no package, no file changed', async () => {
    const before = snapshot(upper);
    requests.length = 0;
    const second = await chroot(userData);
    expect(second.code, second.output).toBe(0);
    expect(requests).toEqual([]);
    const after = snapshot(upper);
    // only the stand-in's record of `systemctl enable --now docker` grows
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((p) => before.get(p) !== after.get(p));
    expect(changed).toEqual(['var/log/prevu-systemctl']);
  });
});
