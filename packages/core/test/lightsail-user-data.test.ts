// The user-data script: shellcheck-clean, and idempotent when run twice against a fake root
// (PREVU_ROOT for files, fake apt-get/curl/systemctl/docker/dpkg/id/usermod first on PATH that
// record their calls and keep the "installed" state under the root).
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lightsailUserData } from '../src/drivers/lightsail-user-data.js';

const execFileAsync = promisify(execFile);
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZhbHVlLW9mLXRoZS10ZXN0LWtleS0xMjM0NTY3ODkw';

function ensureShellcheck(): string {
  const found = () => {
    try {
      return execFileSync('sh', ['-c', 'command -v shellcheck'], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  if (found()) return found();
  try {
    execFileSync('apt-get', ['install', '-y', '-q', 'shellcheck'], { stdio: 'pipe' });
  } catch {
    try {
      execFileSync('sh', ['-c', 'apt-get update -q && apt-get install -y -q shellcheck'], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`shellcheck is not installed and apt-get could not install it (install the Debian package shellcheck): ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (!found()) throw new Error('apt-get ran but shellcheck is still not on PATH');
  return found();
}

// Each fake appends "<name> <args>" to $PREVU_ROOT/calls; package state lives in $PREVU_ROOT/fake.
const fakes: Record<string, string> = {
  'apt-get': `echo "apt-get $*" >>"$PREVU_ROOT/calls"
if [ "$(printf '%s\\n' "$@" | grep -c '^install$')" = 1 ]; then
  for a in "$@"; do case "$a" in -*|install|DPkg::*) ;; *) echo "$a" >>"$PREVU_ROOT/fake/installed" ;; esac; done
fi`,
  curl: `echo "curl $*" >>"$PREVU_ROOT/calls"
while [ $# -gt 0 ]; do if [ "$1" = -o ]; then echo '-----BEGIN PGP PUBLIC KEY BLOCK-----' >"$2"; fi; shift; done`,
  systemctl: `echo "systemctl $*" >>"$PREVU_ROOT/calls"`,
  dpkg: `echo "dpkg $*" >>"$PREVU_ROOT/calls"; echo amd64`,
  docker: `echo "docker $*" >>"$PREVU_ROOT/calls"
[ "$1 $2" = "compose version" ] && grep -qx docker-compose-plugin "$PREVU_ROOT/fake/installed" 2>/dev/null`,
  id: `echo "id $*" >>"$PREVU_ROOT/calls"; echo "admin $(cat "$PREVU_ROOT/fake/groups" 2>/dev/null)"`,
  usermod: `echo "usermod $*" >>"$PREVU_ROOT/calls"; echo docker >>"$PREVU_ROOT/fake/groups"`,
  getent: `echo "getent $*" >>"$PREVU_ROOT/calls"; echo "admin:x:1000:1000::/home/admin:/bin/bash"`,
  chown: `echo "chown $*" >>"$PREVU_ROOT/calls"`,
};

describe('lightsail user-data', () => {
  let dir: string;
  let bin: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'prevu-userdata-'));
    bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const [name, body] of Object.entries(fakes)) {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes shellcheck (default port and a custom SSH port)', async () => {
    const shellcheck = ensureShellcheck();
    for (const sshPort of [22, 2022]) {
      const file = join(dir, `user-data-${sshPort}.sh`);
      writeFileSync(file, lightsailUserData({ sshUser: 'admin', sshPort, authorizedKey: KEY }));
      // Every severity down to style; a finding exits non-zero with its text.
      const result = await execFileAsync(shellcheck, ['--shell=bash', '--severity=style', file]).catch((e: { stdout: string }) => ({ stdout: e.stdout, failed: true }));
      expect(result.stdout, result.stdout).toBe('');
    }
  });

  it('refuses a user or port that could inject shell', () => {
    expect(() => lightsailUserData({ sshUser: "admin'; rm -rf /", sshPort: 22, authorizedKey: KEY })).toThrow(/invalid SSH user/);
    expect(() => lightsailUserData({ sshUser: 'admin', sshPort: 0, authorizedKey: KEY })).toThrow(/invalid SSH port/);
    expect(() => lightsailUserData({ sshUser: 'admin', sshPort: 22, authorizedKey: "ssh-ed25519 AAAA'$(reboot)'" })).toThrow(/invalid public key/);
    // The comment is dropped, whatever it holds.
    expect(lightsailUserData({ sshUser: 'admin', sshPort: 22, authorizedKey: `${KEY} it's $(me)` })).toContain(`authorized_key='${KEY}'\n`);
  });

  it('installs once and converges on a second run (fake root)', async () => {
    const root = join(dir, 'root');
    for (const d of [join(root, 'etc/apt/sources.list.d'), join(root, 'fake')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), 'ID=debian\nVERSION_CODENAME=bookworm\n');
    const script = join(dir, 'user-data.sh');
    writeFileSync(script, lightsailUserData({ sshUser: 'admin', sshPort: 2022, authorizedKey: `${KEY} someone@laptop` }));
    const env = { PATH: `${bin}:/usr/bin:/bin`, PREVU_ROOT: root };
    const run = async () => {
      rmSync(join(root, 'calls'), { force: true });
      await execFileAsync('bash', [script], { env });
      return readFileSync(join(root, 'calls'), 'utf8').trim().split('\n');
    };
    const snapshot = () =>
      Object.fromEntries(
        walk(join(root, 'etc')).map((f) => [relative(root, f), `${readFileSync(f, 'utf8')}|${statSync(f).mode.toString(8)}`]),
      );

    const first = await run();
    expect(first).toContain('systemctl restart ssh');
    expect(first.filter((c) => c.startsWith('apt-get') && c.includes(' install '))).toEqual([
      'apt-get -q -y -o DPkg::Lock::Timeout=600 install ca-certificates curl',
      'apt-get -q -y -o DPkg::Lock::Timeout=600 install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin',
    ]);
    expect(first).toContain('systemctl enable --now docker');
    expect(first).toContain('usermod -aG docker admin');
    expect(first).toContain(`chown -R admin: ${root}/home/admin/.ssh`);
    const afterFirst = snapshot();
    expect(afterFirst['etc/apt/sources.list.d/docker.list']).toMatch(/^deb \[arch=amd64 signed-by=\/etc\/apt\/keyrings\/docker.asc\] https:\/\/download.docker.com\/linux\/debian bookworm stable\n\|/);
    expect(afterFirst['etc/ssh/sshd_config.d/prevu-port.conf']).toBe('Port 22\nPort 2022\n|100644');
    expect(afterFirst['etc/apt/keyrings/docker.asc']).toMatch(/BEGIN PGP/);
    const keys = () => `${readFileSync(join(root, 'home/admin/.ssh/authorized_keys'), 'utf8')}|${statSync(join(root, 'home/admin/.ssh/authorized_keys')).mode.toString(8)}`;
    expect(keys()).toBe(`${KEY}\n|100600`);

    // Second run: nothing installed, no restart of sshd, no group change; files unchanged.
    const second = await run();
    expect(second).toEqual(['docker compose version', 'getent passwd admin', 'systemctl enable --now docker', 'id -nG admin']);
    expect(snapshot()).toEqual(afterFirst);
    expect(keys()).toBe(`${KEY}\n|100600`);
  });

  it('resumes a half-finished first run without fetching the key again', async () => {
    const root = join(dir, 'root-half');
    mkdirSync(join(root, 'etc/apt/keyrings'), { recursive: true });
    mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
    mkdirSync(join(root, 'fake'), { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), 'VERSION_CODENAME=bookworm\n');
    // Interrupted after the key was written but before Docker was installed.
    writeFileSync(join(root, 'etc/apt/keyrings/docker.asc'), '-----BEGIN PGP PUBLIC KEY BLOCK-----\n');
    const script = join(dir, 'user-data-22.sh');
    writeFileSync(script, lightsailUserData({ sshUser: 'admin', sshPort: 22, authorizedKey: KEY }));
    await execFileAsync('bash', [script], { env: { PATH: `${bin}:/usr/bin:/bin`, PREVU_ROOT: root } });
    const calls = readFileSync(join(root, 'calls'), 'utf8');
    expect(calls).not.toMatch(/^curl/m);
    expect(calls).not.toMatch(/systemctl restart ssh/);
    expect(calls).toMatch(/install docker-ce .*docker-compose-plugin/);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
